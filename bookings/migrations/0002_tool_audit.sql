-- The agents' audit trail (bookings/audit.py). Read newest first, for one agent or traveller.
CREATE TABLE tool_audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    agent_id text NOT NULL,
    traveller_id text NOT NULL,
    tool text NOT NULL,
    arguments text NOT NULL,
    outcome text NOT NULL,
    error text,
    duration_ms double precision NOT NULL
);
CREATE INDEX tool_audit_by_agent ON tool_audit (agent_id, id);
CREATE INDEX tool_audit_by_traveller ON tool_audit (traveller_id, id);

-- The booking record and its history (bookings/store.py's SQLite schema, in PostgreSQL types).
-- Payloads stay JSON text (json, not jsonb): they round-trip byte for byte, as in SQLite, and
-- nothing queries inside them. The departure keeps its own offset (the local time the
-- traveller sees), so it is ISO 8601 text; the store's own instants are timestamptz.
CREATE TABLE bookings (
    booking_id text PRIMARY KEY,
    traveller_id text NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    flight json,
    hotel json,
    departure text,
    price json,
    paid_paise bigint NOT NULL DEFAULT 0,
    refs json NOT NULL DEFAULT '{}',
    travellers json NOT NULL DEFAULT '[]',
    contact json
);
CREATE INDEX bookings_by_traveller ON bookings (traveller_id, created_at DESC);

-- One row per (booking, step): the key that makes a replayed activity change nothing.
-- `seq` orders steps recorded at the same instant, as SQLite's rowid does. The foreign key
-- is what refuses a step of a booking that does not exist.
CREATE TABLE booking_history (
    booking_id text NOT NULL REFERENCES bookings (booking_id),
    step text NOT NULL,
    at timestamptz NOT NULL,
    status text NOT NULL,
    detail text NOT NULL DEFAULT '',
    seq bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (booking_id, step)
);
CREATE INDEX booking_history_in_order ON booking_history (booking_id, at, seq);

-- Traveller profiles (bookings/profiles.py): a phone number belongs to one profile.
CREATE TABLE traveller_profiles (
    traveller_id text PRIMARY KEY,
    phone text UNIQUE,
    body json NOT NULL,
    updated_at timestamptz NOT NULL
);

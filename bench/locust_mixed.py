"""Locust users for `bench/load_mixed.py`: the traveller journeys in the mix the platform sees —
chat sessions (a search, then follow-ups in context), policy questions, fare searches and
bookings (a fresh fare, then a booking with an idempotency key). Driven on loopback only;
`load_mixed.py` starts the server, sets `YATRI_BENCH_SECRET` and reads the figures.
`YATRI_BENCH_HOSTS` (comma-separated bases, `bench/scale_out.py`) gives each traveller one of
several API processes in turn instead of `--host`."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from locust import HttpUser, between, task

ROUTES = [("DEL", "BOM"), ("BLR", "GOI"), ("MAA", "CCU"), ("HYD", "PNQ"), ("BOM", "COK"),
          ("JAI", "BLR"), ("LKO", "DEL"), ("AMD", "MAA")]  # fmt: skip
CITIES = {"DEL": "Delhi", "BOM": "Mumbai", "BLR": "Bangalore", "GOI": "Goa", "MAA": "Chennai",
          "CCU": "Kolkata", "HYD": "Hyderabad", "PNQ": "Pune", "COK": "Kochi", "JAI": "Jaipur",
          "LKO": "Lucknow", "AMD": "Ahmedabad"}  # fmt: skip
FOLLOW_UPS = ["make it 2 adults", "what about the day after", "thanks"]
QUESTIONS = [
    json.loads(line)["question"]
    for line in (Path(__file__).parent.parent / "examples" / "policies" / "questions.jsonl")
    .read_text()
    .splitlines()
    if line.strip()
]
_counter = itertools.count()
HOSTS = [h.strip() for h in os.environ.get("YATRI_BENCH_HOSTS", "").split(",") if h.strip()]
_hosts = itertools.cycle(HOSTS)


def _date(days: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=days)


def _token(traveller: str) -> str:
    claims = {"sub": traveller, "scope": "bookings", "exp": int(time.time()) + 3600}
    return jwt.encode(claims, os.environ["YATRI_BENCH_SECRET"], algorithm="HS256")


class Traveller(HttpUser):
    wait_time = between(0.5, 1.5)  # think time between a traveller's requests

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if HOSTS:  # before HttpUser builds its client on self.host
            self.host = next(_hosts)
        super().__init__(*args, **kwargs)

    @task(5)
    def chat_session(self) -> None:
        origin, destination = random.choice(ROUTES)
        session = f"load-{uuid.uuid4().hex[:12]}"
        day = _date(random.randint(5, 40)).strftime("%d %B")
        texts = [f"flights from {CITIES[origin]} to {CITIES[destination]} on {day}", *FOLLOW_UPS]
        for text in texts:
            self.client.post(
                "/v1/chat", json={"session_id": session, "text": text}, name="chat turn"
            )

    @task(2)
    def policy_question(self) -> None:
        self.client.post(
            "/v1/answers", json={"question": random.choice(QUESTIONS)}, name="policy answer"
        )

    @task(3)
    def fare_search(self) -> None:
        origin, destination = random.choice(ROUTES)
        self.client.get(
            "/v1/fares",
            params={"from": origin, "to": destination,
                    "date": _date(random.randint(5, 40)).isoformat(), "adults": 1},
            name="fare search",
        )  # fmt: skip

    @task(1)
    def booking(self) -> None:
        origin, destination = random.choice(ROUTES)
        fares = self.client.get(
            "/v1/fares",
            params={"from": origin, "to": destination,
                    "date": _date(random.randint(5, 40)).isoformat(), "adults": 1},
            name="fare search",
        )  # fmt: skip
        if fares.status_code != 200 or not fares.json().get("offers"):
            return
        offer = fares.json()["offers"][0]
        traveller = f"load-trav-{next(_counter) % 50}"
        body = {
            "flight": {
                "origin": offer["from"], "destination": offer["to"],
                "date": offer["departure"][:10], "flight_number": offer["flight_number"],
                "fare_family": offer["fare_family"], "adults": 1,
            },
            "expected_total_paise": offer["price"]["total_paise"],
            "travellers": [{"first_name": "Asha", "last_name": "Rao"}],
            "contact": {"email": "asha@example.com", "phone": "+91 98765 43210"},
        }  # fmt: skip
        headers = {"authorization": f"Bearer {_token(traveller)}",
                   "idempotency-key": str(uuid.uuid4())}  # fmt: skip
        with self.client.post(
            "/v1/bookings", json=body, headers=headers, name="booking", catch_response=True
        ) as response:
            # A fare repriced or sold out between search and hold is the system working.
            if response.status_code in (201, 409, 422):
                response.success()

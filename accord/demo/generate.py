"""Seeded, realistic demo data made with Faker: a CRM export and web events."""

from __future__ import annotations

import csv
import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path


def crm_export(path: Path, rows: int, seed: int = 7) -> int:
    """A gzip CSV CRM export with a few realistic defects; returns how many rows are defective."""
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    defects = 0
    with gzip.open(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "customer_id",
                "first_name",
                "last_name",
                "email",
                "phone",
                "birth_date",
                "gender",
                "city",
                "country",
                "newsletter",
                "loyalty_tier",
                "loyalty_points",
            ]
        )
        for i in range(1, rows + 1):
            first, last = fake.first_name(), fake.last_name()
            email = f"{first}.{last}{i}@{fake.free_email_domain()}"
            birth = fake.date_of_birth(minimum_age=18, maximum_age=90).strftime("%d/%m/%Y")
            row = [
                f"C{i:07d}",
                first,
                last,
                email.upper() if i % 5 == 0 else email,
                fake.msisdn()[:11],
                birth,
                rng.choice("FMX"),
                fake.city(),
                "us",
                rng.choice(["yes", "no"]),
                rng.choice(["bronze", "silver", "gold", "platinum"]),
                str(rng.randint(0, 20000)),
            ]
            kind = i % 97
            if kind == 13:  # an e-mail that is not one
                row[3], defects = "unknown", defects + 1
            elif kind == 41:  # a date that does not exist
                row[5], defects = "31/02/1980", defects + 1
            elif kind == 67:  # a truncated line from a broken export
                row, defects = row[:5], defects + 1
            writer.writerow(row)
    return defects


def web_events(path: Path, customers: int, events: int, seed: int = 11) -> None:
    """Web page views and purchases as JSON lines with identityMap (ECID cookies, some logged in)."""
    rng = random.Random(seed)
    start = recent_start()
    pages = ["home", "shoes", "shirts", "cart", "checkout", "account"]
    with path.open("w", encoding="utf-8") as handle:
        for n in range(events):
            customer = rng.randint(1, customers)
            ecid = f"{customer:019d}{customer * 7919 % 10**19:019d}"
            identity: dict[str, list[dict[str, object]]] = {"ECID": [{"id": ecid, "primary": True}]}
            if rng.random() < 0.4:
                identity["CRMID"] = [
                    {"id": f"C{customer:07d}", "authenticatedState": "authenticated", "primary": False}
                ]
            page = rng.choice(pages)
            event: dict[str, object] = {
                "_id": f"evt-{n:08d}",
                "timestamp": (start + timedelta(seconds=rng.randint(0, 45 * 86400))).isoformat(),
                "identityMap": identity,
                "web": {
                    "webPageDetails": {
                        "URL": f"https://shop.example.com/{page}",
                        "name": page,
                        "pageViews": {"value": 1},
                    }
                },
            }
            if page == "checkout" and rng.random() < 0.5:
                event["eventType"] = "commerce.purchases"
                event["commerce"] = {
                    "order": {
                        "purchaseID": f"o{n}",
                        "priceTotal": round(rng.uniform(5, 400), 2),
                        "currencyCode": "USD",
                    },
                    "purchases": {"value": 1},
                }
            else:
                event["eventType"] = "web.webpagedetails.pageViews"
            handle.write(json.dumps(event) + "\n")


def recent_start() -> datetime:
    """Events and orders start 45 days ago (midnight UTC), so that "the last 30 days" always finds some."""
    return (datetime.now(UTC) - timedelta(days=45)).replace(hour=0, minute=0, second=0, microsecond=0)


def shop_database(path: Path, customers: int, orders: int, start_id: int = 1, seed: int = 5) -> None:
    """A SQLite shop database with an `orders` table; call again with a later `start_id` to add orders."""
    import sqlite3

    rng = random.Random(seed + start_id)
    start = recent_start()
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS orders (order_id INTEGER PRIMARY KEY, customer_id TEXT, total REAL,"
            " currency TEXT, ordered_at TEXT)"
        )
        connection.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            [
                (n, f"C{rng.randint(1, customers):07d}", round(rng.uniform(5, 400), 2), "USD",
                 (start + timedelta(minutes=n * 7)).isoformat())
                for n in range(start_id, start_id + orders)
            ],
        )  # fmt: skip
    connection.close()

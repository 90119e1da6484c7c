"""Config sections of the platform: indicator thresholds, master data files, warning delivery."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field

from core.config import Section


class IndicatorsSection(Section):
    timezone: str = Field(default="Asia/Shanghai", description="Schools' local time zone: day boundaries.")
    interval_s: int = Field(
        default=300, ge=5, description="Periodic mode: seconds between evaluations of today and yesterday."
    )
    immediate_poll_s: float = Field(
        default=1.0, ge=0, le=60,
        description="Periodic mode: seconds between looks for newly arrived alerts (stations' re-test "
                    "and typed-temperature alerts, central's chain alerts), raised and delivered at once; "
                    "0 = off.",
    )
    master_data_file: Path | None = Field(
        default=None,
        description="JSON master data: station→school map, contract prices, diner counts "
                    "(docs/indicators.md); none = stations are their own school, no contract/diner checks.",
    )
    payments_csv: Path | None = Field(
        default=None,
        description="Payments CSV (school_id,supplier_id,month,amount_fen) for the finance check; "
                    "none = off.",
    )
    price_over_order_pct: int = Field(
        default=0, ge=0, le=1000,
        description="Delivered unit price above the order by more than this percent warns (0: any excess).",
    )
    price_over_contract_pct: int = Field(
        default=0, ge=0, le=1000,
        description="Order unit price above the contract price by more than this percent warns.",
    )
    rejection_rate_pct: int = Field(
        default=20, ge=0, le=100,
        description="A supplier's rejected lines over 7 days above this percent of its lines warns.",
    )
    rejection_min_lines: int = Field(
        default=10, ge=1, description="The weekly rejection rate is judged only from this many lines up."
    )
    window_grace_min: int = Field(
        default=0, ge=0, le=720,
        description="A delivery opened more than this many minutes outside the order's window warns.",
    )
    clip_grace_min: int = Field(
        default=60, ge=0,
        description="An acceptance with no clip.finalized this many minutes after it warns.",
    )
    same_inspectors_days: int = Field(
        default=30, ge=1, le=366,
        description="The same two inspectors on every delivery for this many days warns.",
    )
    same_inspectors_min_deliveries: int = Field(
        default=10, ge=1, description="...and only with at least this many deliveries in that span."
    )
    late_arrival_h: int = Field(
        default=24, ge=1, description="Events received more than this many hours after their `at` warn."
    )
    offline_window_min: int = Field(
        default=10, ge=0, le=1440,
        description="A station offline for more than this many minutes in all of a day's delivery windows "
                    "warns (from its status/LWT history).",
    )
    quantity_band_pct: int = Field(
        default=30, ge=1, le=1000,
        description="Accepted grams per diner per category outside ±this percent of the 30-day median warns.",
    )
    quantity_min_days: int = Field(
        default=5, ge=1, description="The quantity band needs at least this many earlier days with data."
    )
    split_orders_min: int = Field(
        default=3, ge=2, description="One item in this many orders or more on one day warns (split orders)."
    )
    finance_tolerance_fen: int = Field(
        default=100, ge=0,
        description="Monthly accepted amount and payments differing by more than this many fen warns.",
    )


class WebhookSection(Section):
    url: str = Field(description="http(s) URL the warning is POSTed to as JSON.")
    secret_file: Path = Field(description="File holding the HMAC-SHA256 key (never logged).")


class SchoolRecipients(Section):
    mqtt: bool = Field(default=True, description="Publish to acceptance/v1/schools/{school}/warnings.")
    webhooks: list[WebhookSection] = Field(default_factory=list, description="Webhooks to POST to.")
    emails: list[str] = Field(default_factory=list, description="E-mail addresses to send to.")


class DeliverySection(Section):
    enabled: bool = Field(default=False, description="Deliver new warnings after each evaluation.")
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS on the SMTP connection.")
    mail_from: str = Field(default="warnings@central.invalid", description="Sender address of the e-mails.")
    retries: int = Field(default=5, ge=0, le=20, description="Retries of a failed send within one run.")
    backoff_min_s: float = Field(default=1.0, gt=0, description="First retry wait (doubles).")
    backoff_max_s: float = Field(default=60.0, gt=0, description="Longest retry wait.")
    timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one send (HTTP, SMTP, MQTT).")
    max_age_h: int = Field(
        default=72, ge=1,
        description="Only warnings stored this many hours ago or less are sent (a new recipient does not "
                    "get the whole history; an outage longer than this needs a manual resend).",
    )
    schools: dict[str, SchoolRecipients] = Field(
        default_factory=dict,
        description="Recipients per school id; the key `*` applies to schools not listed.",
    )


class DisciplineSection(Section):
    deadline_working_days: int = Field(
        default=3, ge=1, le=60,
        description="Working days a school has to explain a warning; weekends and holidays are skipped.",
    )
    holidays: list[date] = Field(
        default_factory=list, description="Public holidays (YYYY-MM-DD) that are not working days.",
    )

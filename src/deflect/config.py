"""The one settings object. Read once at an entry point and passed down; never imported as a global."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from deflect.errors import ConfigError

DEV_CUSTOMER_KEY = "dev-customer-key"
DEV_AGENT_KEY = "dev-agent-key"
DEV_ADMIN_KEY = "dev-admin-key"
DEV_HOSTS = ("localhost", "127.0.0.1")  # the names a developer opens the demo page by
DEV_WIDGET_ID = "wid_dev_localhost"  # public by design: a widget id is no secret, its origins are the guard
# A helpdesk origin as CSP frame-ancestors takes it (a leading `*.` for subdomains): nothing that could end the
# directive (`;`, spaces) or add a keyword, since it is written into the panel's Content-Security-Policy.
PANEL_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$")
# A project folder's settings file (`deflect init` writes it). Dotenv, the format pydantic-settings reads natively
# (`_env_file`): the same DEFLECT_* names and parsing as the environment, which overrides it.
PROJECT_FILE = "deflect.env"
# Folder names that say what a folder holds, not which product: DEFLECT_KB_DIR=/usr/share/doc/fish/html is fish's.
# A TCP port someone can connect to: uvicorn and Chroma take 0 (or 65536 and up, wrapped) as "any free port", which
# serve.json and the CLI could then not name. The `serve --port` flag checks the same range.
PORT_RANGE = (1, 65535)
Port = Annotated[int, Field(ge=PORT_RANGE[0], le=PORT_RANGE[1])]
# The accepted wrong-answer rate, from one in a thousand answers to one in two; the `--target-risk` flags of
# `calibrate` and `eval` take the same range.
TARGET_RISK_RANGE = (0.001, 0.5)
GENERIC_FOLDERS = frozenset(
    "kb docs doc documentation html manual man help articles content site public build _build out dist en "  # noqa: SIM905
    "latest share usr".split()
)


class Secret:
    """Marks a setting that holds a secret (`Annotated[type, SECRET]`). Whatever shows settings (report stamps, the
    settings' repr, error messages) goes through `Settings.redacted`, which masks every field so marked: a new secret
    setting is hidden by its own declaration, not by a list kept elsewhere. tests/test_config.py checks that every
    key-, secret-, token- or password-like setting carries the mark."""


SECRET = Secret()
MASK = "********"


def hide_password(value: str) -> str:
    """`value` with a URL's password masked (`postgresql://app:********@db/deflect`, also `?password=`); anything
    else unchanged. SQLAlchemy and Ollama URLs carry credentials this way."""
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:  # not a URL (e.g. an unbalanced `[`): nothing of a URL's to hide
        return value
    if password is not None:
        parts = parts._replace(netloc=f"{parts.username or ''}:{MASK}@{parts.netloc.rpartition('@')[2]}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any("password" in k.lower() for k, _ in query):
        masked = [(k, MASK if "password" in k.lower() else v) for k, v in query]
        parts = parts._replace(query=urlencode(masked, safe="*"))
    return urlunsplit(parts) if parts != urlsplit(value) else value


def _split_csv(value: object) -> object:
    """Accept `a,b` from the environment as well as a real list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob deflect has; each field is also listed in `.env.example` and the README."""

    model_config = SettingsConfigDict(env_prefix="DEFLECT_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = Field(
        "development", description="`production` refuses the built-in development API keys."
    )
    project: Path | None = Field(
        None,
        description="The project folder (`deflect init`): its deflect.env is read and relative paths resolve against "
        "it. Unset: `--project`, else the nearest folder holding deflect.env from the working directory up, else none "
        "(paths relative to the working directory).",
    )
    kb_dir: Path = Field(Path("kb"), description="Knowledge base folder that `deflect ingest` reads by default.")
    product_name: str = Field(
        "",
        max_length=100,
        description="The product the knowledge base documents, as the /demo help page names it. Empty: the project "
        "folder's name, else the KB folder's (its parent's when that is a generic name such as kb, docs or html).",
    )
    data_dir: Path = Field(
        Path(".data"),
        description="All local state: embedded Chroma, the SQLite database (unless database_url says otherwise), "
        "calibration, keyword index, rate limits.",
    )

    chroma_mode: Literal["embedded", "http"] = Field(
        "embedded",
        description="`embedded` (PersistentClient under data_dir) or `http` (a `chroma run` server).",
    )
    chroma_host: str = Field("127.0.0.1", description="Chroma server host when chroma_mode=http.")
    chroma_port: Port = Field(8000, description="Chroma server port when chroma_mode=http (1-65535).")
    chroma_collection: str = Field(
        "deflect",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,501}[a-zA-Z0-9]$",
        description="Chroma collection name (3-503 of a-z, A-Z, 0-9, . _ -); internal chunks go in <name>-internal.",
    )
    # 512, not 128: at 128 the top-40 missed 2-3% of the exact neighbours of real questions on a 9k-chunk manual and
    # 6% at 100k (26% of all questions' top-1 there), and differed between two processes opening the same index;
    # 512 costs ~0.5 ms of kNN (docs/retrieval.md, session 12).
    chroma_ef_search: int = Field(
        512, ge=10, description="HNSW ef_search; Chroma's default gives poor recall on small collections."
    )

    embedding_model: str = Field(
        "minilm",
        description="`minilm` (packaged all-MiniLM-L6-v2), `mpnet` (all-mpnet-base-v2, extra `[mpnet]`), `e5` "
        "(multilingual-e5-small, 4-bit, extra `[multilingual]`: for KBs not in English), or any sentence-transformers "
        "local path.",
    )
    embedding_threads: int = Field(
        1, ge=1, description="torch threads; 1 is robust when the other core is busy (measured)."
    )
    # 16, not 32: measured on the 2-core Intel machine (session 20), 667 chunks of the Python manual embedded in
    # 19.3 s against 20.8-23.5 s (raw `encode`: 20.7-22.7 against 25.0-26.0), and the link sentences of the anchor
    # index 8.7 s against 10 s: a batch's activations stay in the cores' caches.
    embedding_batch_size: int = Field(16, ge=1, description="Batch size when embedding chunks at ingest.")
    embedding_ingest_threads: int = Field(
        0,
        ge=0,
        description="torch threads when embedding a batch or more of texts at once (ingest); 0: one per CPU core. "
        "A question alone always uses embedding_threads.",
    )
    ingest_parse_workers: int = Field(
        0,
        ge=0,
        description="Processes parsing files at ingest (1 MB or more of files to parse); 0: one per CPU core; 1: none, "
        "the ingest's own process parses.",
    )
    chunk_size: int = Field(200, ge=50, description="Chunk size in tokens; MiniLM reads at most 256 word pieces.")
    chunk_overlap: int = Field(30, ge=0, description="Token overlap between consecutive chunks.")
    embed_page_lead: bool = Field(
        False,
        description="Embed each article chunk with its page's opening sentence (helped one long manual, not a second "
        "one or short answer-shaped articles; docs/retrieval.md). Changing it re-embeds everything at the next ingest.",
    )

    retrieval_candidates: int = Field(40, ge=5, description="Chunks fetched from each retriever before fusion.")
    fusion_bm25_weight: float = Field(
        0.05, ge=0.0, le=1.0, description="Weight of normalised BM25 added to the dense cosine (measured)."
    )
    anchor_weight: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Anchor text: a page's sections that other pages' link sentences near the question land on rank "
        "its source higher by this x (cosine - floor); order only, never its score (docs/retrieval.md). 0: off "
        "(no anchors stored, none searched).",
    )
    anchor_floor: float = Field(
        0.3, ge=-1.0, le=1.0, description="Cosine a link sentence must pass to move its target page (measured)."
    )
    answer_max_sources: int = Field(2, ge=1, le=5, description="Most sources an extractive answer cites.")
    answer_max_chars: int = Field(
        1000, ge=200, le=8000, description="Longest passage an extractive answer quotes; longer ones are trimmed."
    )

    suggest_excerpt: bool = Field(
        True,
        description="Quote the first page suggested to an escalated customer (low confidence only, extractive "
        "generator): the passages an answer would quote from that page alone, shown under it while the escalation "
        "stands. Off: suggested pages are pointers only, and no unvetted text reaches customers.",
    )

    generator: Literal["extractive", "ollama"] = Field(
        "extractive", description="`extractive` (grounded, no LLM) or `ollama`."
    )
    ollama_host: str = Field("http://127.0.0.1:11434", description="Ollama server URL (loopback).")
    ollama_model: str = Field("llama3.1:8b", description="Ollama model tag.")
    ollama_timeout_s: float = Field(60.0, gt=0, description="Seconds before an Ollama call is abandoned.")

    calibration_file: Path | None = Field(
        None,
        description="An explicit calibration file (e.g. fitted on a golden set); unset: the one deflect fits on the "
        "KB itself at ingest (`deflect calibrate`), stored under data_dir/calibration/.",
    )
    target_risk: float = Field(
        0.05,
        ge=TARGET_RISK_RANGE[0],
        le=TARGET_RISK_RANGE[1],
        description="Accepted wrong-answer rate among answers (0.001-0.5); sets the calibrated threshold.",
    )
    calibration_probes: int = Field(
        400, ge=20, description="Most KB questions (titles, headings, escalations) self-calibration asks."
    )
    calibration_uncovered_share: float = Field(
        0.25,
        gt=0.0,
        lt=1.0,
        description="Share of questions the KB is expected not to cover; self-calibration's wrong-answer rate is "
        "measured on that mix.",
    )
    recalibrate_share: float = Field(
        0.1, gt=0.0, le=1.0, description="`deflect ingest` refits the calibration when this share of sources changed."
    )
    calibrate_from_traffic: bool = Field(
        True,
        description="Self-calibration also fits on questions asked at the desk that votes or resolutions labelled "
        "(deflect.calibrate.traffic), once there are `traffic_min_cases` of them, and its threshold then meets the "
        "target risk on them alone as well.",
    )
    # ~10 wrong answers among ~200 answered questions at a 5% target: fewer cannot tell the rate from noise.
    traffic_min_cases: int = Field(
        200,
        ge=1,
        description="Labelled desk questions needed before self-calibration uses them, and new ones since the last "
        "fit (or a fifth more, if larger) before it is refitted for them.",
    )
    traffic_max_age_days: float = Field(
        180.0, gt=0.0, description="Desk questions older than this are not used by self-calibration."
    )
    confidence_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Override the calibrated answer threshold (normally unset)."
    )

    policy_file: Path = Field(
        Path("config/policy.yaml"), description="Escalation triggers: risk topics, human request, frustration, repeats."
    )
    escalation_file: Path = Field(
        Path("config/escalation.yaml"), description="Priority/tier matrix, SLA clocks and hand-off message templates."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL for escalations and the audit log; empty: SQLite at data_dir/deflect.db."
    )

    customer_api_keys: Annotated[list[str], NoDecode, SECRET] = Field(
        default_factory=lambda: [DEV_CUSTOMER_KEY], description="Comma-separated keys with the customer role."
    )
    agent_api_keys: Annotated[list[str], NoDecode, SECRET] = Field(
        default_factory=lambda: [DEV_AGENT_KEY], description="Comma-separated keys with the agent role."
    )
    admin_api_keys: Annotated[list[str], NoDecode, SECRET] = Field(
        default_factory=lambda: [DEV_ADMIN_KEY], description="Comma-separated keys with the admin role."
    )
    max_question_chars: int = Field(2000, ge=1, description="Longer questions are refused with a 422.")
    host: str = Field("127.0.0.1", description="`deflect serve` bind address.")
    index_timeout_s: float = Field(
        5.0, gt=0, description="Seconds an ask waits for retrieval before escalating with `index_unavailable`."
    )
    index_retry_after_s: float = Field(
        5.0, ge=0, description="After an index failure, asks skip the index (and escalate at once) this long."
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Request bodies larger than this get a 413 before parsing or authentication."
    )
    gaps_refresh_s: float = Field(
        300.0, ge=0, description="The server recomputes the gap report this often; GET /v1/gaps serves one this fresh."
    )
    recalibrate_every_s: float = Field(
        21600.0,
        ge=0,
        description="The server checks this often whether the desk labelled enough new questions and refits the "
        "calibration for them (its own ingests refit when they end); 0: only `deflect ingest` and `deflect calibrate` "
        "do.",
    )
    knowledge_retry_s: float = Field(
        30.0,
        gt=0,
        description="Seconds between runs of the job that indexes resolutions still pending as knowledge (and stores "
        "self-serve votes a failed write lost).",
    )
    database_timeout_s: float = Field(
        5.0, gt=0, description="Seconds a database read or write waits (SQLite lock, PostgreSQL connect) before a 503."
    )
    port: Port = Field(8080, description="`deflect serve` port (1-65535).")
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per log line, with the HTTP request's id (`X-Request-ID`)."
    )

    # The web panel and the customer widget (src/deflect/web/).
    widgets: dict[str, list[str]] = Field(
        # The development widget is allowed on the demo page's own origin, on whatever port is served (production
        # serves no development widget: deflect.web.widgets).
        default_factory=lambda data: {DEV_WIDGET_ID: [f"http://{h}:{data.get('port', 8080)}" for h in DEV_HOSTS]},
        description="Public widget ids (JSON) and the site origins each may be embedded on; an empty list allows none. "
        "Default: the development widget on http://localhost:PORT and http://127.0.0.1:PORT.",
    )
    widget_identity_secret: Annotated[str | None, SECRET] = Field(
        None, description="HS256 secret your site signs short-lived visitor identity tokens with (unset: anonymous)."
    )
    widget_rate_per_session: int = Field(20, ge=1, description="Widget asks per minute per widget id and visitor.")
    widget_rate_per_ip: int = Field(60, ge=1, description="Widget requests per minute per client IP address.")
    panel_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated helpdesk origins that may frame /panel and post ticket context to it.",
    )
    zaf_sdk_url: str = Field(
        "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js",
        description="Zendesk's ZAF SDK script the panel loads when it runs as a Zendesk ticket sidebar app.",
    )

    _split_keys = field_validator(
        "customer_api_keys", "agent_api_keys", "admin_api_keys", "panel_origins", mode="before"
    )(_split_csv)

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.env == "production":
            keys = set(self.customer_api_keys) | set(self.agent_api_keys) | set(self.admin_api_keys)
            if keys & {DEV_CUSTOMER_KEY, DEV_AGENT_KEY, DEV_ADMIN_KEY}:
                raise ValueError("production refuses the development API keys; set DEFLECT_*_API_KEYS")
        roles = (set(self.customer_api_keys), set(self.agent_api_keys), set(self.admin_api_keys))
        if any(a & b for i, a in enumerate(roles) for b in roles[i + 1 :]):
            raise ValueError("an API key can have only one role (customer, agent or admin)")
        bad_origins = [o for o in self.panel_origins if not PANEL_ORIGIN.match(o)]
        if bad_origins:
            raise ValueError(f"panel_origins must be origins like https://acme.zendesk.com, got {bad_origins}")
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        """Relative paths belong to the project folder, not to wherever the command happens to run."""
        if self.project is not None:
            base = self.project
            for name in ("kb_dir", "data_dir", "policy_file", "escalation_file", "calibration_file"):
                value = getattr(self, name)
                if value is not None and not value.expanduser().is_absolute():
                    setattr(self, name, base / value)
            prefix = "sqlite:///"
            path = self.database_url.removeprefix(prefix)
            if self.database_url.startswith(prefix) and path and not path.startswith(("/", ":memory:", "?")):
                self.database_url = prefix + str(base / path)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'deflect.db'}"
        return self

    def redacted(self) -> dict[str, str]:
        """Every setting as text, for whatever shows settings (report stamps, dumps, logs): each secret-marked one
        masked (when set), and any URL's password."""
        return {name: str(value) for name, value in self._shown()}

    def _shown(self) -> Iterator[tuple[str, Any]]:
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if SECRET in info.metadata and value:
                yield name, MASK
            else:
                yield name, hide_password(value) if isinstance(value, str) else value

    def __repr_args__(self) -> Iterator[tuple[str, Any]]:
        # repr(settings) lands in logs and tracebacks: the same masking as `redacted`.
        return self._shown()

    @classmethod
    def load(cls, project: Path | None = None, cwd: Path | None = None) -> Settings:
        """The settings of a project: `project`, else DEFLECT_PROJECT, else the nearest folder from `cwd` up that
        holds deflect.env. No project: the environment and ./.env, paths relative to the working directory."""
        named = project or (Path(os.environ["DEFLECT_PROJECT"]) if os.environ.get("DEFLECT_PROJECT") else None)
        root = named.expanduser() if named is not None else find_project(cwd or Path.cwd())
        if root is None:
            return cls._read(Path(".env"))
        root = (cwd or Path.cwd()) / root
        if not (root / PROJECT_FILE).is_file():
            # A typo must not quietly start a second, empty project (new data dir, new database).
            raise ConfigError(f"{root} is not a deflect project (no {PROJECT_FILE}); create one with `deflect init`")
        return cls._read(root / PROJECT_FILE, project=root.resolve())

    @classmethod
    def _read(cls, env_file: Path, **given: Any) -> Settings:
        """The settings from the environment and `env_file`; what is wrong in them as a ConfigError, one line per
        problem, naming the variable to fix (pydantic names the field alone, which no one sets by that name)."""
        try:
            return cls(_env_file=env_file, **given)  # type: ignore[call-arg]
        except ValidationError as exc:
            # A default computed from other settings (the development widget's port) is not computed once one of
            # them is wrong: that is the other setting's problem, reported once, not a second one of its own.
            errors = [e for e in exc.errors() if e["type"] != "default_factory_not_called"]
            problems = [_problem(error, env_file) for error in errors]
        except SettingsError as exc:  # a JSON setting (DEFLECT_WIDGETS) that is not JSON
            field = re.search(r'field "(\w+)"', str(exc))
            name = f"DEFLECT_{field[1].upper()}" if field else "a setting"
            problems = [f"{name}{_where(name, env_file)}: not valid JSON: {exc.__cause__ or exc}"]
        raise ConfigError("\n".join(problems)) from None

    @property
    def product(self) -> str:
        """The product's name for pages: product_name, else one derived from where the KB lives (product_name's
        description); a folder named for its format or role (`kb`, `html`) names no product, so its parent does."""
        named = " ".join(self.product_name.split())
        if named:
            return named
        if self.project is not None and self.project.name:
            return self.project.name
        kb = self.kb_dir.expanduser().absolute()
        return next((p.name for p in (kb, *kb.parents) if p.name and p.name.lower() not in GENERIC_FOLDERS), kb.name)

    @property
    def self_calibration_path(self) -> Path:
        """Where the calibration fitted on this KB lives: with the index, one file per collection."""
        return self.data_dir / "calibration" / f"{self.chroma_collection}.json"

    @property
    def parse_memo_path(self) -> Path:
        """What each knowledge file parsed into at the last ingest (ingest/memo.py): unchanged files skip parsing."""
        return self.data_dir / "parse-memo.json"

    @property
    def chroma_path(self) -> Path:
        """Embedded Chroma directory."""
        return self.data_dir / "chroma"


def _where(name: str, env_file: Path) -> str:
    """Where a variable's value came from: the environment overrides the settings file."""
    return "" if name in os.environ or not env_file.is_file() else f" (in {env_file})"


def _problem(error: Any, env_file: Path) -> str:
    """One pydantic error as `DEFLECT_NAME (in FILE): problem (got 'value')`; a secret's value is never echoed."""
    problem = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:  # a rule across settings: its message names them
        return f"invalid settings: {problem}"
    field = str(error["loc"][0])
    name = f"DEFLECT_{field.upper()}"
    inner = "".join(f"[{part!r}]" for part in error["loc"][1:])  # e.g. which widget of DEFLECT_WIDGETS
    info = Settings.model_fields.get(field)
    secret = info is not None and SECRET in info.metadata
    value = error.get("input")
    got = "" if secret or isinstance(value, dict) else f" (got {hide_password(str(value))[:80]!r})"
    return f"{name}{inner}{_where(name, env_file)}: {problem}{got}"


def find_project(start: Path) -> Path | None:
    """The nearest folder from `start` up that holds a deflect.env, or None."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return None

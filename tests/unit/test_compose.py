"""Static checks of docker-compose.yml and the Dockerfile (no Docker engine needed).

The compose file is parsed with PyYAML (anchors and `<<` merges resolved) and checked against
what the gateway actually does: the services DESIGN.md promises, the start-up order, the
environment wiring between services and that every variable name is one `Settings` reads.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import promql_parser
import pytest
import yaml

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

REQUIRED = {"redis", "postgres", "migrate", "api", "worker", "scheduler", "receiver", "smtp"}
GATEWAY = ("migrate", "api", "worker", "scheduler", "receiver", "smtp")
AFTER_MIGRATE = ("api", "worker", "scheduler", "receiver")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    svc = compose.get("services")
    assert isinstance(svc, dict) and svc, "docker-compose.yml has no services"
    return svc


def env_of(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment as a dict, whichever form (mapping or KEY=VALUE list) it uses."""
    raw = service.get("environment") or {}
    if isinstance(raw, dict):
        return {str(k): None if v is None else str(v) for k, v in raw.items()}
    out: dict[str, str | None] = {}
    for item in raw:
        key, sep, value = str(item).partition("=")
        out[key] = value if sep else None
    return out


def command_of(service: dict[str, Any]) -> list[str]:
    raw = service.get("command")
    if raw is None:
        return []
    return shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]


def depends_of(service: dict[str, Any]) -> dict[str, str]:
    """{dependency: condition}; the short list form means `service_started`."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return {name: "service_started" for name in raw}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def mounts_of(service: dict[str, Any]) -> dict[str, str]:
    """{container path: source} for the service's volumes (short or long syntax)."""
    out = {}
    for vol in service.get("volumes") or []:
        if isinstance(vol, str):
            parts = vol.split(":")
            if len(parts) >= 2:
                out[parts[1]] = parts[0]
        else:
            out[vol["target"]] = vol.get("source", "")
    return out


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending)
    out = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


# --------------------------------------------------------------------------- services and order


def test_every_required_service_exists(services: dict[str, Any]) -> None:
    missing = REQUIRED - services.keys()
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_gateway_services_share_one_built_image(services: dict[str, Any]) -> None:
    images = set()
    for name in GATEWAY:
        svc = services[name]
        build = svc.get("build")
        context = build.get("context") if isinstance(build, dict) else build
        assert context in {".", "./"}, f"{name}: must `build: .` (got {build!r})"
        assert svc.get("image"), f"{name}: give the built image a name"
        images.add(svc["image"])
    assert len(images) == 1, f"gateway services use different image names: {sorted(images)}"
    # Any other service built from this repository must be in the list checked below.
    built_here = {name for name, svc in services.items() if "build" in svc}
    assert built_here == set(GATEWAY), (
        f"unexpected built services: {sorted(built_here - set(GATEWAY))}"
    )


@pytest.mark.parametrize("name", GATEWAY)
def test_gateway_service_runs_its_subcommand(services: dict[str, Any], name: str) -> None:
    expected = {
        "migrate": "migrate",
        "api": "api",
        "worker": "worker",
        "scheduler": "scheduler",
        "receiver": "receiver",
        "smtp": "catcher",
    }[name]
    assert command_of(services[name]) == [expected]


def test_redis_appends_to_its_aof(services: dict[str, Any]) -> None:
    cmd = command_of(services["redis"])
    assert cmd and cmd[0] == "redis-server", f"redis command: {cmd}"
    assert "--appendonly" in cmd and cmd[cmd.index("--appendonly") + 1] == "yes", cmd
    assert "--appendfsync" in cmd and cmd[cmd.index("--appendfsync") + 1] == "everysec", cmd
    assert mounts_of(services["redis"]).get("/data"), "redis /data must be on a named volume"
    assert str(services["redis"].get("image", "")).startswith("redis:7")


def test_postgres_keeps_its_data(services: dict[str, Any], compose: dict[str, Any]) -> None:
    pg = services["postgres"]
    assert str(pg.get("image", "")).startswith("postgres:16")
    source = mounts_of(pg).get("/var/lib/postgresql/data")
    assert source in (compose.get("volumes") or {}), (
        "postgres data must be on a declared named volume"
    )


@pytest.mark.parametrize(
    "name,probe", [("redis", "redis-cli"), ("postgres", "pg_isready"), ("api", "/healthz")]
)
def test_healthchecks(services: dict[str, Any], name: str, probe: str) -> None:
    check = services[name].get("healthcheck")
    assert check, f"{name} has no healthcheck"
    assert not check.get("disable"), f"{name}'s healthcheck is disabled"
    test = check.get("test")
    text = test if isinstance(test, str) else " ".join(map(str, test))
    assert probe in text, f"{name}'s healthcheck does not use {probe}: {text}"
    if name == "redis":
        assert "ping" in text


@pytest.mark.parametrize("name", [n for n in GATEWAY if n != "api"])
def test_image_healthcheck_is_off_where_nothing_serves_http(
    services: dict[str, Any], name: str
) -> None:
    # The Dockerfile's HEALTHCHECK probes :8080/healthz, which only `api` serves; left on, a
    # healthy worker or scheduler would be reported unhealthy.
    assert (services[name].get("healthcheck") or {}).get("disable") is True, name


def test_worker_runs_two_replicas(services: dict[str, Any]) -> None:
    assert services["worker"].get("deploy", {}).get("replicas") == 2
    assert "container_name" not in services["worker"], "a fixed container_name prevents replicas"


def test_migrate_is_one_shot_after_healthy_stores(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert command_of(migrate) == ["migrate"]
    assert str(migrate.get("restart")) == "no", "a restarting migrate never completes"
    deps = depends_of(migrate)
    assert deps.get("redis") == "service_healthy", deps
    assert deps.get("postgres") == "service_healthy", deps


@pytest.mark.parametrize("name", AFTER_MIGRATE)
def test_processes_wait_for_migrations(services: dict[str, Any], name: str) -> None:
    assert depends_of(services[name]).get("migrate") == "service_completed_successfully"


def test_api_publishes_8080(services: dict[str, Any]) -> None:
    ports = [
        str(p) if not isinstance(p, dict) else f"{p.get('published')}:{p.get('target')}"
        for p in services["api"].get("ports") or []
    ]
    assert any(p.endswith("8080") and p.split(":")[0] == "8080" for p in ports), ports


# --------------------------------------------------------------------------- environment wiring


@pytest.mark.parametrize("name", GATEWAY)
def test_gateway_env_points_at_the_services(services: dict[str, Any], name: str) -> None:
    env = env_of(services[name])

    db = urlsplit(env.get("DATABASE_URL") or "")
    assert db.scheme.startswith("postgresql"), f"{name}: DATABASE_URL={env.get('DATABASE_URL')!r}"
    assert db.hostname == "postgres" and db.hostname in services
    pg_env = env_of(services["postgres"])
    assert db.username == pg_env.get("POSTGRES_USER"), (
        "DATABASE_URL user differs from POSTGRES_USER"
    )
    assert db.password == pg_env.get("POSTGRES_PASSWORD"), "DATABASE_URL password differs"
    assert db.path.lstrip("/") == pg_env.get("POSTGRES_DB"), "DATABASE_URL database differs"

    redis = urlsplit(env.get("REDIS_URL") or "")
    assert redis.scheme == "redis" and redis.hostname == "redis" and redis.hostname in services, (
        f"{name}: REDIS_URL={env.get('REDIS_URL')!r}"
    )

    assert env.get("SMTP_HOST") == "smtp" and "smtp" in services, (
        f"{name}: SMTP_HOST={env.get('SMTP_HOST')!r}"
    )
    catcher_port = env_of(services["smtp"]).get("CATCHER_PORT")
    assert env.get("SMTP_PORT") == catcher_port, "SMTP_PORT must be the port the catcher listens on"

    assert env.get("GATEWAY_DATA_DIR") == "/data"
    assert urlsplit(env.get("GATEWAY_PUBLIC_URL") or "").hostname == "api"
    assert str(env.get("LOG_JSON")).lower() == "true"
    # Settings must accept the whole environment (types, supported database scheme).
    Settings.from_env({k: v for k, v in env.items() if v is not None and "${" not in v})


@pytest.mark.parametrize("variable", ["GATEWAY_SECRET", "SANDBOX_SECRET"])
def test_secrets_come_from_the_host_environment_with_no_default(
    services: dict[str, Any], variable: str
) -> None:
    # `${VAR:?message}`: compose refuses to start without the variable, instead of falling
    # back to a value anyone can read in this file.
    for name in GATEWAY:
        secret = env_of(services[name]).get(variable) or ""
        assert re.fullmatch(r"\$\{" + variable + r"(:?\?[^}]*)\}", secret), (
            f"{name}: {variable}={secret!r}"
        )


@pytest.mark.parametrize("name", GATEWAY)
def test_the_processes_start_once_the_host_gives_the_secrets(
    services: dict[str, Any], name: str
) -> None:
    env = env_of(services[name])
    given = {
        k: "4f1c0e9b2a7d6e5f3c8b1a0d9e7f6c5b" if v and v.startswith("${") else v
        for k, v in env.items()
        if v is not None
    }
    settings = Settings.from_env(given)
    assert not settings.is_development, "compose is a deployment, not a laptop"
    settings.check_secrets()


def test_every_env_name_is_read_by_settings(services: dict[str, Any]) -> None:
    known = {name for name, _default in Settings.documented()}
    checked = 0
    for name in GATEWAY:
        env = env_of(services[name])
        unknown = sorted(set(env) - known)
        assert not unknown, f"{name}: variables gateway/settings.py does not read: {unknown}"
        checked += len(env)
    assert checked, "no gateway environment variables were found to check"


def test_catcher_listens_beyond_loopback(services: dict[str, Any]) -> None:
    # Workers reach the catcher as smtp:2525, so it must not bind 127.0.0.1 in its container.
    assert env_of(services["smtp"]).get("CATCHER_HOST") == "0.0.0.0"


@pytest.mark.parametrize("name", ["api", "worker", "smtp"])
def test_shared_data_volume(services: dict[str, Any], compose: dict[str, Any], name: str) -> None:
    assert mounts_of(services[name]).get("/data") == "gateway-data", (
        f"{name}: gateway-data not at /data"
    )
    assert "gateway-data" in (compose.get("volumes") or {}), "gateway-data is not a declared volume"


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_base_and_packages() -> None:
    instructions = dockerfile_instructions()
    froms = [args for ins, args in instructions if ins == "FROM"]
    assert froms and froms[-1].split()[0] == "python:3.11-slim", froms
    apt = " ".join(args for ins, args in instructions if ins == "RUN" and "apt-get install" in args)
    assert "--no-install-recommends" in apt
    for lib in (
        "libpango-1.0-0",
        "libpangoft2-1.0-0",
        "libharfbuzz-subset0",
        "fonts-dejavu-core",
        "fonts-wqy-microhei",
    ):
        assert lib in apt.split(), f"Dockerfile does not install {lib}"
    assert "rm -rf /var/lib/apt/lists" in apt, "apt lists are not cleaned in the install layer"


def test_dockerfile_copies_every_packaged_directory() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = set()
    for ins, args in dockerfile_instructions():
        if ins == "COPY":
            copied.update(
                part.rstrip("/") for part in args.split()[:-1] if not part.startswith("--")
            )
    for needed in [*packages, "pyproject.toml", "README.md"]:
        assert needed in copied, f"Dockerfile does not COPY {needed}"


def test_dockerfile_installs_non_editably() -> None:
    installs = []
    for ins, args in dockerfile_instructions():
        if ins != "RUN":
            continue
        for part in re.split(r"&&|;", args):
            tokens = shlex.split(part)
            if "pip" in " ".join(tokens[:3]) and "install" in tokens:
                installs.append(tokens)
    assert installs, "no `pip install` in the Dockerfile"
    assert any("." in tokens for tokens in installs), (
        f"the project itself is not installed: {installs}"
    )
    for tokens in installs:
        assert "-e" not in tokens and "--editable" not in tokens, f"editable install: {tokens}"


def test_dockerfile_entrypoint_cmd_user_and_healthcheck() -> None:
    instructions = dockerfile_instructions()
    entry = [args for ins, args in instructions if ins == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1]) == ["reminder-gateway"], entry
    cmd = [args for ins, args in instructions if ins == "CMD"]
    assert cmd and json.loads(cmd[-1]) == ["api"], cmd
    users = [args for ins, args in instructions if ins == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the image must run as a non-root user"
    exposed = " ".join(args for ins, args in instructions if ins == "EXPOSE").split()
    assert "8080" in exposed
    env = " ".join(args for ins, args in instructions if ins == "ENV")
    assert re.search(r"\bGATEWAY_HOST=0\.0\.0\.0\b", env), "GATEWAY_HOST=0.0.0.0 is not set"
    checks = [args for ins, args in instructions if ins == "HEALTHCHECK"]
    assert checks and "http://127.0.0.1:8080/healthz" in checks[-1] and "urllib" in checks[-1], (
        checks
    )


# --------------------------------------------------------------------------- monitoring

PROMETHEUS_CONFIG = ROOT / "ops" / "prometheus.yml"
# Gateway processes with a Prometheus endpoint: the API on its own port, the others on METRICS_PORT.
SCRAPED = ("api", "worker", "scheduler")


def dockerfile_env() -> dict[str, str]:
    """The image's ENV defaults (`KEY=VALUE` pairs)."""
    env: dict[str, str] = {}
    for ins, args in dockerfile_instructions():
        if ins == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def settings_in_container(service: dict[str, Any]) -> Settings:
    env = {**dockerfile_env(), **env_of(service)}
    return Settings.from_env({k: v for k, v in env.items() if v is not None and "${" not in v})


def metrics_port(name: str, service: dict[str, Any]) -> int:
    settings = settings_in_container(service)
    return settings.port if name == "api" else settings.metrics_port


@pytest.fixture(scope="module")
def scrape_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    jobs = config.get("scrape_configs") or []
    return {job["job_name"]: job for job in jobs}


def test_prometheus_runs_with_the_scrape_config(services: dict[str, Any]) -> None:
    prom = services.get("prometheus")
    assert prom, "docker-compose.yml has no prometheus service"
    assert str(prom.get("image", "")).startswith("prom/prometheus"), prom.get("image")
    mounts = mounts_of(prom)
    config = next((src for target, src in mounts.items() if target.endswith("prometheus.yml")), "")
    assert (ROOT / config).resolve() == PROMETHEUS_CONFIG, mounts
    assert any(f"--config.file={t}" in command_of(prom) for t in mounts if t.endswith(".yml"))
    assert set(SCRAPED) <= set(depends_of(prom)), "prometheus should start after what it scrapes"


@pytest.mark.parametrize("name", ["worker", "scheduler"])
def test_workers_and_scheduler_serve_metrics_beyond_loopback(
    services: dict[str, Any], name: str
) -> None:
    settings = settings_in_container(services[name])
    assert settings.metrics_port, f"{name}: METRICS_PORT is not set, nothing serves its metrics"
    host = settings.metrics_host or settings.host
    assert host == "0.0.0.0", f"{name}: metrics on {host} cannot be scraped from another container"


def test_every_scraped_process_has_a_job_on_its_port(
    services: dict[str, Any], scrape_jobs: dict[str, dict[str, Any]]
) -> None:
    for name in SCRAPED:
        job = scrape_jobs.get(name)
        assert job, f"ops/prometheus.yml has no job {name!r}"
        assert job.get("metrics_path", "/metrics") == "/metrics"
        port = metrics_port(name, services[name])
        if name == "worker":
            # Replicas: one target per container, found by DNS, never a single static address.
            assert "static_configs" not in job, "a static worker target scrapes one replica"
            [sd] = job.get("dns_sd_configs") or [{}]
            assert sd.get("names") in (["worker"], ["tasks.worker"]), sd
            assert sd.get("type", "A") == "A" and sd.get("port") == port, sd
            continue
        targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets", [])]
        assert targets == [f"{name}:{port}"], f"{name}: targets {targets}, expected port {port}"


def test_every_scrape_target_is_a_compose_service(
    services: dict[str, Any], scrape_jobs: dict[str, dict[str, Any]]
) -> None:
    for job_name, job in scrape_jobs.items():
        hosts = [
            t.rsplit(":", 1)[0] for sc in job.get("static_configs") or [] for t in sc["targets"]
        ]
        hosts += [
            n.removeprefix("tasks.") for sd in job.get("dns_sd_configs") or [] for n in sd["names"]
        ]
        assert hosts, f"job {job_name} has no targets"
        for host in hosts:
            assert host in services or host == "localhost", f"job {job_name}: no service {host!r}"


def test_alert_rules_are_loaded_and_name_only_metrics_that_exist(services: dict[str, Any]) -> None:
    from gateway.metrics.recorder import Metrics

    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    mounts = mounts_of(services["prometheus"])
    rule_files = config.get("rule_files") or []
    assert rule_files, "ops/prometheus.yml loads no alert rules"
    m = Metrics()
    known = {s.name for s in [*m.worker_series(), *m.scheduler_series()]}
    known |= {f"{n}_{suffix}" for n in set(known) for suffix in ("bucket", "sum", "count")}
    known |= {"gateway_http_requests_total", "gateway_messages"}  # the API's own
    for path in rule_files:
        source = mounts.get(path)
        assert source, f"{path} is not mounted into the prometheus container"
        groups = yaml.safe_load((ROOT / source).read_text(encoding="utf-8"))["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert rules
        for rule in rules:
            assert rule.get("alert") and rule.get("expr") and rule.get("for"), rule
            assert rule.get("labels", {}).get("severity") in {"page", "ticket"}, rule
            assert rule.get("annotations", {}).get("summary"), rule
            promql_parser.parse(rule["expr"])  # raises on a syntax error
            unknown = set(re.findall(r"\bgateway_[a-z_]+", rule["expr"])) - known
            assert not unknown, f"{rule['alert']}: no such metric {sorted(unknown)}"

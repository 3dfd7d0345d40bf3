"""`cto serve`: refuses bad settings in one line naming the setting; serves when configured."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CTO = Path(sys.executable).parent / "cto"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTO_")}
    env.update({"CTO_DATA_DIR": str(tmp_path / "data"), "NO_COLOR": "1", "COLUMNS": "200"})
    env.update(extra)
    return env


def _run(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CTO), "serve"],
        env=_env(tmp_path, **extra),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_serve_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 2
    line = _one_line(result)
    assert line.startswith("error: invalid setting CTO_SECRET_KEY: is required outside demo mode")


def test_serve_refuses_a_malformed_database_url(tmp_path: Path) -> None:
    result = _run(tmp_path, CTO_SECRET_KEY="x" * 32, CTO_DATABASE_URL="definitely not a url")
    assert result.returncode == 2
    assert "CTO_DATABASE_URL: is not a database URL" in _one_line(result)


def test_serve_refuses_an_unknown_key_in_cto_toml(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('secret_key = "0123456789abcdef0123"\nprot = 8080\n')
    result = _run(tmp_path, CTO_CONFIG=str(config))
    assert result.returncode == 2
    assert _one_line(result) == f"error: invalid setting prot: unknown setting in {config}"


@pytest.mark.slow
def test_serve_answers_health_checks_on_loopback(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [str(CTO), "serve", "--port", str(port)],
        env=_env(tmp_path, CTO_SECRET_KEY="0123456789abcdef0123"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health.json() == {"status": "ok", "database": "ok"}
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    assert "0123456789abcdef0123" not in stderr
    assert "path=/healthz" in stderr

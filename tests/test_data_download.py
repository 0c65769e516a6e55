"""Downloads, against a local HTTP server on 127.0.0.1 that honours Range."""

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlpot.cli.data import main
from mlpot.data import DATASETS, DownloadError, data_dir, download, download_file
from mlpot.data.download import KnownFile

DATA = Path(__file__).parent / "data"
PAYLOAD = (DATA / "rmd17_ethanol_test_01_subset.npz").read_bytes()
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
SERVED_PATH = "owner/repo/0123abcd/data/rmd17_ethanol_test_01_subset.npz"


class RangeServer(ThreadingHTTPServer):
    """Serves ``files`` (URL path -> bytes); logs each request's Range header."""

    def __init__(self, files, honour_range=True):
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.files = files
        self.honour_range = honour_range
        self.requests = []  # (path, Range header or None, bytes sent)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class RangeHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.files.get(self.path.lstrip("/"))
        requested = self.headers.get("Range")
        start = 0
        if body is not None and requested and self.server.honour_range:
            start = int(requested.removeprefix("bytes=").split("-")[0])
        sent = 0 if body is None or start >= len(body) else len(body) - start
        # Log before answering: the client may check the log as soon as it
        # has the answer.
        self.server.requests.append((self.path, requested, sent))
        if body is None:
            self.send_error(404)
        elif start >= len(body):
            self.send_error(416)
        else:
            self.send_response(206 if start else 200)
            if start:
                content_range = f"bytes {start}-{len(body) - 1}/{len(body)}"
                self.send_header("Content-Range", content_range)
            self.send_header("Content-Length", str(sent))
            self.end_headers()
            self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def local_only(monkeypatch):
    """Make sure no proxy is asked for 127.0.0.1."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _serve(files, honour_range=True):
    server = RangeServer(files, honour_range)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()
    return server


@pytest.fixture
def server(local_only):
    server = _serve({SERVED_PATH: PAYLOAD})
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def known(monkeypatch):
    """A registry entry for the served file."""
    entry = KnownFile(path=SERVED_PATH, sha256=PAYLOAD_SHA256, description="test file")
    monkeypatch.setitem(DATASETS, "test-ethanol", entry)
    return entry


def test_download_and_cache(server, known, tmp_path):
    path = download("test-ethanol", cache_dir=tmp_path, base_url=server.url)
    assert path == tmp_path / "rmd17_ethanol_test_01_subset.npz"
    assert path.read_bytes() == PAYLOAD
    assert server.requests == [(f"/{SERVED_PATH}", None, len(PAYLOAD))]
    assert download("test-ethanol", cache_dir=tmp_path, base_url=server.url) == path
    assert len(server.requests) == 1  # the verified file is not fetched again
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_environment_variables_choose_cache_and_mirror(
    server, known, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLPOT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLPOT_DATA_URL", server.url + "/")
    path = download("test-ethanol")
    assert path == tmp_path / "cache" / "rmd17_ethanol_test_01_subset.npz"
    assert path.read_bytes() == PAYLOAD


def test_default_cache_dir(monkeypatch):
    monkeypatch.delenv("MLPOT_DATA_DIR", raising=False)
    assert data_dir() == Path.home() / ".cache" / "mlpot"
    assert data_dir("~/elsewhere") == Path.home() / "elsewhere"


def test_checksum_mismatch_is_rejected(server, tmp_path):
    destination = tmp_path / "file.npz"
    with pytest.raises(
        DownloadError, match=f"checksum mismatch.*expected sha256 {'0' * 64}"
    ):
        download_file(f"{server.url}/{SERVED_PATH}", destination, "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_partial_download_is_resumed(server, tmp_path):
    destination = tmp_path / "file.npz"
    half = len(PAYLOAD) // 2
    (tmp_path / "file.npz.part").write_bytes(PAYLOAD[:half])
    download_file(f"{server.url}/{SERVED_PATH}", destination, PAYLOAD_SHA256)
    assert destination.read_bytes() == PAYLOAD
    assert server.requests == [
        (f"/{SERVED_PATH}", f"bytes={half}-", len(PAYLOAD) - half)
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.npz"]


def test_complete_partial_file_is_finished_without_refetching(server, tmp_path):
    (tmp_path / "file.npz.part").write_bytes(PAYLOAD)
    download_file(f"{server.url}/{SERVED_PATH}", tmp_path / "file.npz", PAYLOAD_SHA256)
    assert (tmp_path / "file.npz").read_bytes() == PAYLOAD
    assert server.requests[0][1:] == (f"bytes={len(PAYLOAD)}-", 0)


def test_corrupt_partial_file_is_rejected_then_retried(server, tmp_path):
    destination = tmp_path / "file.npz"
    half = len(PAYLOAD) // 2
    (tmp_path / "file.npz.part").write_bytes(b"x" * half)
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_file(f"{server.url}/{SERVED_PATH}", destination, PAYLOAD_SHA256)
    assert list(tmp_path.iterdir()) == []
    download_file(f"{server.url}/{SERVED_PATH}", destination, PAYLOAD_SHA256)
    assert destination.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_the_file(local_only, tmp_path):
    server = _serve({SERVED_PATH: PAYLOAD}, honour_range=False)
    try:
        (tmp_path / "file.npz.part").write_bytes(PAYLOAD[:100])
        download_file(
            f"{server.url}/{SERVED_PATH}", tmp_path / "file.npz", PAYLOAD_SHA256
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (tmp_path / "file.npz").read_bytes() == PAYLOAD
    assert server.requests[0][1:] == ("bytes=100-", len(PAYLOAD))


def test_offline_message(local_only, tmp_path):
    with socket.socket() as probe:  # a port on 127.0.0.1 where nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "file.npz.part").write_bytes(PAYLOAD[:10])
    with pytest.raises(DownloadError, match="are you offline.*resumed.*MLPOT_DATA_URL"):
        download_file(
            f"http://127.0.0.1:{port}/x.npz",
            tmp_path / "file.npz",
            PAYLOAD_SHA256,
            timeout=5,
        )
    assert (tmp_path / "file.npz.part").read_bytes() == PAYLOAD[:10]


def test_missing_file_on_server_and_unknown_name(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(f"{server.url}/nothing.npz", tmp_path / "x.npz", PAYLOAD_SHA256)
    with pytest.raises(
        ValueError, match="unknown data set 'rmd17-ethnol'.*rmd17-ethanol-train-01"
    ):
        download("rmd17-ethnol", cache_dir=tmp_path)


def test_registry_pins_commits_and_checksums():
    entry = DATASETS["rmd17-ethanol-train-01"]
    assert entry.path == (
        "andersx/rmd17-npz/4f6bb0a186822c90d47cd98b7a27991fe0b3173b/"
        "rmd17-npz/rmd17_ethanol_train_01.npz"
    )
    assert (
        entry.sha256
        == "096946747b8d9dcfa042b44f8debbd3da387dfe1586b659e3be789cc4927316a"
    )
    assert DATASETS["sgdml-ethanol-ccsdt-train"].filename == "ethanol_ccsd_t-train.npz"
    assert all(len(entry.sha256) == 64 for entry in DATASETS.values())


def test_cli_download(server, known, tmp_path, capsys):
    argv = [
        "download",
        "test-ethanol",
        "--cache-dir",
        str(tmp_path),
        "--base-url",
        server.url,
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(
        tmp_path / "rmd17_ethanol_test_01_subset.npz"
    )
    assert main(["download", "--list"]) == 0
    listing = capsys.readouterr().out
    assert (
        "rmd17-aspirin-train-01" in listing and "sgdml-ethanol-ccsdt-train" in listing
    )
    assert main(["download", "rmd17-ethnol", "--cache-dir", str(tmp_path)]) == 1
    assert "unknown data set" in capsys.readouterr().err

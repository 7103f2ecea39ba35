"""A fake Hugging Face Hub on 127.0.0.1: serves directory trees as model repos, for tests.

It answers what `huggingface_hub.hf_hub_download` asks (ecosystem notes, section 2.3):

    HEAD/GET /{org}/{name}/resolve/{revision}/{path}
        200 with X-Repo-Commit, ETag (quoted sha256 of the bytes) and Content-Length;
        GET also sends the bytes. Files are read at request time, so a test may change a
        served file after adding its repo.
    unknown repo       404, X-Error-Code: RepoNotFound      -> RepositoryNotFoundError
    unknown revision   404, X-Error-Code: RevisionNotFound  -> RevisionNotFoundError
    missing file       404, X-Error-Code: EntryNotFound     -> RemoteEntryNotFoundError
    anything else      404 (e.g. GET /api/agent-harnesses, which the client tolerates)

Every response carries Content-Length (HTTP/1.1 keep-alive). Each request is logged as
"METHOD /path" in `FakeHub.requests`. Use it as a context manager:

    with FakeHub() as hub:
        commit = hub.add_repo("lvc/demo", directory, tags=("v1.0",))
        ... run code with HF_ENDPOINT=hub.url ...
        assert "HEAD /lvc/demo/resolve/v1.0/config.json" in hub.requests
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

__all__ = ["FakeHub", "FakeRepo"]


@dataclass(frozen=True)
class FakeRepo:
    """One served repository: a directory tree at a single commit.

    Attributes:
        root: the directory whose files are the repo's files.
        commit: the commit id sent as X-Repo-Commit (40 hex digits).
        revisions: names that resolve to `commit` ("main", tags, the commit itself).
    """

    root: Path
    commit: str
    revisions: frozenset[str]


Response = tuple[int, dict[str, str], bytes]
"""Status, headers (Content-Length is added when sending) and body."""


class FakeHub:
    """A threaded HTTP server on 127.0.0.1 (port chosen by the OS) that looks like the Hub."""

    def __init__(self) -> None:
        self._repos: dict[str, FakeRepo] = {}
        self._requests: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------- set-up
    def add_repo(self, repo_id: str, root: Path, tags: tuple[str, ...] = ()) -> str:
        """Serve the files under `root` as model repo `repo_id`; returns its commit id.

        The commit is derived from `repo_id`, so it is stable across runs.
        """
        commit = hashlib.sha1(repo_id.encode()).hexdigest()
        self._repos[repo_id] = FakeRepo(Path(root), commit, frozenset({"main", commit, *tags}))
        return commit

    def start(self) -> None:
        """Listen on 127.0.0.1 and serve from a background thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.hub = self  # type: ignore[attr-defined]  # read by _Handler
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fakehub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self) -> FakeHub:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------- reading
    @property
    def url(self) -> str:
        """The endpoint to put in HF_ENDPOINT, e.g. "http://127.0.0.1:41234"."""
        if self._server is None:
            raise RuntimeError("FakeHub is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        """A copy of the request log, "METHOD /path" per request, oldest first."""
        with self._lock:
            return list(self._requests)

    # ------------------------------------------------------------------------- answering
    def record(self, method: str, path: str) -> None:
        """Append one request to the log (called by the handler threads)."""
        with self._lock:
            self._requests.append(f"{method} {path}")

    def respond(self, path: str) -> Response:
        """The answer to HEAD/GET of `path` (the GET body; HEAD sends the same headers only)."""
        parts = [unquote(part) for part in urlsplit(path).path.split("/")]
        if len(parts) < 6 or parts[0] != "" or parts[3] != "resolve":
            return _error(404, None, "Not found")
        repo = self._repos.get(f"{parts[1]}/{parts[2]}")
        if repo is None:
            return _error(404, "RepoNotFound", "Repository not found")
        if parts[4] not in repo.revisions:
            return _error(404, "RevisionNotFound", "Invalid rev id")
        file = repo.root.joinpath(*parts[5:]).resolve()
        if not file.is_relative_to(repo.root.resolve()) or not file.is_file():
            return _error(404, "EntryNotFound", "Entry not found", commit=repo.commit)
        data = file.read_bytes()
        return 200, {"X-Repo-Commit": repo.commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}, data


def _error(status: int, code: str | None, message: str, commit: str | None = None) -> Response:
    """A Hub-style error: X-Error-Code / X-Error-Message headers and a JSON body."""
    headers = {"Content-Type": "application/json", "X-Error-Message": message}
    if code is not None:
        headers["X-Error-Code"] = code
    if commit is not None:
        headers["X-Repo-Commit"] = commit
    return status, headers, json.dumps({"error": message}).encode()


class _Handler(BaseHTTPRequestHandler):
    """Forwards HEAD and GET to the FakeHub of its server; logs to the hub, not stderr."""

    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(send_body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        hub: FakeHub = self.server.hub  # type: ignore[attr-defined]
        hub.record(self.command, self.path)
        status, headers, body = hub.respond(self.path)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base class signature)
        """Silence the default stderr log; `FakeHub.requests` is the log."""

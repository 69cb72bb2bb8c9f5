"""`anpr-provision masks`: draw the privacy masks on a live frame, in a page, not typed (#22).

A small web page served by the unit itself, on loopback by default (the technician reaches
it through `ssh -L 8765:127.0.0.1:8765 unit`): it shows a fresh frame from the configured
camera on a canvas, the masks already in the agent config over it, and lets the technician
click polygons around homes, gardens and other non-public places. Saving writes them into
the agent config's `[privacy] masks`, every other line left as it was; the new file must
load with the agent's own loader and hold exactly the drawn masks, or nothing is written.
The previous file is kept beside it as `agent.toml.previous`.

Only a holder of the page's one-time token (printed on start, in the URL) may read frames
or save: another local process or a page in the technician's browser cannot.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2

from edge_agent.config import AgentConfig, ConfigError, load_config
from edge_agent.privacy import Polygon
from provisioning.commissioning import FIRST_FRAME_S, frames_until, open_source
from provisioning.keys import ProvisioningError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the unit on JetPack 6 runs Python 3.10: the same parser, from PyPI
    import tomli as tomllib

PAGE = Path(__file__).resolve().parent / "mask_page"
MAX_MASKS = 32
MAX_POINTS = 64
MAX_BODY = 64 * 1024
CSP = "default-src 'self'; img-src 'self' blob:; style-src 'self' 'unsafe-inline'"


def live_frame_jpeg(config: AgentConfig) -> tuple[bytes, int, int]:
    """One fresh frame from the configured source, as JPEG, with its width and height."""
    source = open_source(config)
    for frame in frames_until(source, FIRST_FRAME_S):
        if frame is None:
            break
        ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            height, width = frame.image.shape[:2]
            return jpeg.tobytes(), width, height
    raise ProvisioningError(f"the camera gave no frame in {FIRST_FRAME_S:.0f} s")


def parse_masks(body: object, width: int, height: int) -> list[Polygon]:
    """The page's masks, checked: polygons of 3 to 64 integer points inside the frame."""
    masks = body.get("masks") if isinstance(body, dict) else None
    if not isinstance(masks, list) or len(masks) > MAX_MASKS:
        raise ProvisioningError(f"masks must be a list of at most {MAX_MASKS} polygons")
    found = []
    for index, polygon in enumerate(masks):
        if not isinstance(polygon, list) or not 3 <= len(polygon) <= MAX_POINTS:
            raise ProvisioningError(f"mask {index + 1} needs 3 to {MAX_POINTS} points")
        points = []
        for point in polygon:
            if (not isinstance(point, list) or len(point) != 2
                    or not all(type(v) is int for v in point)):  # fmt: skip
                raise ProvisioningError(f"mask {index + 1}: each point is [x, y] in pixels")
            x, y = point
            if not (0 <= x < width and 0 <= y < height):
                raise ProvisioningError(f"mask {index + 1}: ({x}, {y}) is outside the "
                                        f"{width}x{height} frame")  # fmt: skip
            points.append((x, y))
        found.append(tuple(points))
    return found


_TABLE = re.compile(r"^\s*\[[^\[\]]+\]\s*(#.*)?$")  # a table header, not an array's line


def with_masks(text: str, masks: list[Polygon]) -> str:
    """The agent config's text with `[privacy] masks` replaced, everything else kept."""
    lines = text.splitlines()
    rendered = ["masks = ["] + [
        "    [" + ", ".join(f"[{x}, {y}]" for x, y in polygon) + "]," for polygon in masks
    ] + ["]"]  # fmt: skip
    header = next((i for i, line in enumerate(lines) if line.strip() == "[privacy]"), None)
    if header is None:
        return "\n".join([*lines, "", "[privacy]", *rendered]) + "\n"
    end = next((i for i in range(header + 1, len(lines)) if _TABLE.match(lines[i])), len(lines))
    section = lines[header + 1 : end]
    start = next((i for i, line in enumerate(section) if re.match(r"\s*masks\s*=", line)), None)
    if start is not None:
        depth, stop = 0, start
        for stop in range(start, len(section)):
            code = section[stop].split("#", 1)[0]
            depth += code.count("[") - code.count("]")
            if depth <= 0:
                break
        section = section[:start] + section[stop + 1 :]
    return "\n".join([*lines[: header + 1], *rendered, *section, *lines[end:]]) + "\n"


def save_masks(path: Path, masks: list[Polygon]) -> AgentConfig:
    """Write the masks into the config file; refuse if the result would not load as the
    same configuration with exactly these masks."""
    old_text = path.read_text()
    new_text = with_masks(old_text, masks)
    before, after = tomllib.loads(old_text), tomllib.loads(new_text)
    drawn = [[list(point) for point in polygon] for polygon in masks]
    if after.get("privacy", {}).get("masks") != drawn:
        raise ProvisioningError("the masks could not be written into the configuration")
    before.setdefault("privacy", {}).pop("masks", None)
    after["privacy"].pop("masks")
    if before != after:
        raise ProvisioningError("writing the masks would change other settings; edit by hand")
    partial = path.with_name(path.name + ".partial")
    partial.write_text(new_text)
    try:
        config = load_config(partial)
    except ConfigError as exc:
        partial.unlink()
        raise ProvisioningError(f"the configuration would not load: {exc}") from None
    path.with_name(path.name + ".previous").write_text(old_text)
    partial.replace(path)
    return config


class MaskPage:
    """The page's state: the config file, its token, the size of the last frame shown."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.config = load_config(config_path)
        self.token = secrets.token_urlsafe(24)
        self.size: tuple[int, int] | None = None
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        page = self

        class Handler(_Handler):
            state = page

        return Handler

    def serve(self, bind: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
        return ThreadingHTTPServer((bind, port), self.handler())


class _Handler(BaseHTTPRequestHandler):
    state: MaskPage
    server_version = "anpr-masks"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base's name
        pass  # the technician's console shows what matters, not every request

    def _allowed(self) -> bool:
        query = parse_qs(urlsplit(self.path).query)
        token = self.headers.get("X-Mask-Token") or (query.get("token") or [""])[0]
        return hmac.compare_digest(token.encode(), self.state.token.encode())

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Frame-Options", "DENY")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: dict) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = urlsplit(self.path).path
        if path == "/masks.js":  # the script holds no secret; the page and data need the token
            self._send(200, (PAGE / "masks.js").read_bytes(), "text/javascript")
            return
        if not self._allowed():
            self._send(HTTPStatus.FORBIDDEN, b"open the address printed by anpr-provision masks",
                       "text/plain")  # fmt: skip
            return
        if path == "/":
            self._send(200, (PAGE / "index.html").read_bytes(), "text/html; charset=utf-8")
        elif path == "/frame.jpg":
            try:
                jpeg, width, height = live_frame_jpeg(self.state.config)
            except ProvisioningError as exc:
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, str(exc).encode(), "text/plain")
                return
            with self.state.lock:
                self.state.size = (width, height)
            self._send(200, jpeg, "image/jpeg")
        elif path == "/masks":
            masks = [[list(p) for p in polygon] for polygon in self.state.config.privacy.masks]
            self._json(200, {"masks": masks, "camera": self.state.config.camera.id})
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if urlsplit(self.path).path != "/masks" or not self._allowed():
            self._send(HTTPStatus.FORBIDDEN, b"refused", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "send the masks as JSON, at most 64 KiB"})
            return
        with self.state.lock:
            size = self.state.size
        if size is None:
            self._json(HTTPStatus.CONFLICT, {"error": "load a frame first"})
            return
        try:
            body = json.loads(self.rfile.read(length))
            masks = parse_masks(body, *size)
            with self.state.lock:
                self.state.config = save_masks(self.state.config_path, masks)
        except (ValueError, ProvisioningError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._json(200, {"saved": len(masks), "config": str(self.state.config_path)})

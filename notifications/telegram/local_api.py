"""A local HTTP server speaking the Bot API methods Gridwise uses, for tests and local runs.

Like exchanges/simulator is for Bybit: the real python-telegram-bot talks HTTP to it. It keeps
what the bot sent per chat, lets a test (or a person, over HTTP) inject a user's message or
button press as an update, and can answer 429 with `retry_after` on demand.

Bot API: POST /bot<token>/<method> with JSON or form fields. Control (no token):
    POST /__local/inject    {"chat_id", "text"} or {"chat_id", "callback_data"}, optional "username"
    GET  /__local/sent?chat_id=N
    POST /__local/throttle  {"count": N, "retry_after": S}: the next N sendMessage calls get 429
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger(__name__)

Json = dict[str, Any]
DEFAULT_TOKEN = "100000:local-gridwise-bot-token"  # noqa: S105 - a local stand-in, never a real bot
DEFAULT_USERNAME = "GridwiseLocalBot"
MAX_POLL_SECONDS = 50


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass
class Chat:
    chat_id: int
    username: str
    sent: list[Json] = field(default_factory=list)


class LocalBotApi:
    """The server and its state. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        username: str = DEFAULT_USERNAME,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.username = username
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 100000
        self._lock = threading.Condition()
        self._chats: dict[int, Chat] = {}
        self._updates: list[Json] = []
        # Telegram's update ids only grow; a restarted stand-in must not repeat ids already handled.
        self._update_ids = itertools.count(int(time.time() * 1000))
        self._message_ids = itertools.count(1)
        self._throttle: list[int] = []  # retry_after for each of the next throttled sends
        self.webhook_url = ""
        self.webhook_secret = ""
        self.calls: list[str] = []
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # Life -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_base(self) -> str:
        """What TELEGRAM_API_BASE is set to for this server."""
        return self.url

    def start(self) -> LocalBotApi:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="telegram-local-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._lock.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What tests and people do -----------------------------------------------------

    def inject_message(self, chat_id: int, text: str, username: str = "trader") -> Json:
        """A message from a user to the bot, as Telegram would deliver it."""
        with self._lock:
            chat = self._chat(chat_id, username)
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "username": chat.username},
                "from": {
                    "id": chat_id,
                    "is_bot": False,
                    "first_name": chat.username,
                    "username": chat.username,
                },
                "text": text,
            }
            entities = _command_entities(text)
            if entities:
                message["entities"] = entities
            return self._add_update({"message": message})

    def inject_callback(self, chat_id: int, data: str, username: str = "trader") -> Json:
        """A press on one of the bot's inline buttons."""
        with self._lock:
            chat = self._chat(chat_id, username)
            user = {"id": chat_id, "is_bot": False, "first_name": chat.username, "username": chat.username}
            return self._add_update(
                {
                    "callback_query": {
                        "id": str(next(self._message_ids)),
                        "from": user,
                        "chat_instance": str(chat_id),
                        "data": data,
                        "message": {
                            "message_id": next(self._message_ids),
                            "date": int(time.time()),
                            "chat": {"id": chat_id, "type": "private"},
                            "text": "",
                        },
                    }
                }
            )

    def sent(self, chat_id: int) -> list[Json]:
        with self._lock:
            chat = self._chats.get(chat_id)
            return list(chat.sent) if chat else []

    def wait_for_message(self, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[Json]:
        """The chat's messages once it has at least `count`; raises TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                chat = self._chats.get(chat_id)
                if chat and len(chat.sent) >= count:
                    return list(chat.sent)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"chat {chat_id} got {len(chat.sent) if chat else 0} of {count} messages"
                    )
                self._lock.wait(left)

    def throttle(self, count: int = 1, retry_after: int = 3) -> None:
        with self._lock:
            self._throttle.extend([retry_after] * count)

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    # Internals --------------------------------------------------------------------

    def _chat(self, chat_id: int, username: str = "trader") -> Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = Chat(chat_id, username)
        return chat

    def _add_update(self, body: Json) -> Json:
        update = {"update_id": next(self._update_ids), **body}
        if self.webhook_url:
            threading.Thread(target=self._push, args=(update,), daemon=True).start()
        else:
            self._updates.append(update)
            self._lock.notify_all()
        return update

    def _push(self, update: Json) -> None:
        request = urllib.request.Request(  # noqa: S310 - the URL the bot set, in a local stand-in
            self.webhook_url,
            data=json.dumps(update).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": self.webhook_secret,
            },
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - the URL the bot set
        except OSError:
            logger.warning("Webhook %s refused update %s", self.webhook_url, update["update_id"])

    # Bot API methods ---------------------------------------------------------------

    def call(self, method: str, params: Json) -> Any:
        self.calls.append(method)
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return handler(params)

    def _m_getme(self, params: Json) -> Json:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Gridwise",
            "username": self.username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_sendmessage(self, params: Json) -> Json:
        if "chat_id" not in params or not str(params.get("text", "")):
            raise ApiError(400, "Bad Request: chat_id and text are required")
        chat_id = int(params["chat_id"])
        with self._lock:
            if self._throttle:
                retry_after = self._throttle.pop(0)
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
                )
            chat = self._chat(chat_id)
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": str(params["text"]),
            }
            stored = {
                **message,
                "disable_notification": _truthy(params.get("disable_notification")),
                "reply_markup": _as_json(params.get("reply_markup")),
                "parse_mode": params.get("parse_mode"),
            }
            chat.sent.append(stored)
            self._lock.notify_all()
        return message

    def _m_answercallbackquery(self, params: Json) -> bool:
        return True

    def _m_setwebhook(self, params: Json) -> bool:
        with self._lock:
            self.webhook_url = str(params.get("url", ""))
            self.webhook_secret = str(params.get("secret_token", ""))
        return True

    def _m_deletewebhook(self, params: Json) -> bool:
        with self._lock:
            self.webhook_url = ""
            self.webhook_secret = ""
            if _truthy(params.get("drop_pending_updates")):
                self._updates.clear()
        return True

    def _m_getwebhookinfo(self, params: Json) -> Json:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _m_getupdates(self, params: Json) -> list[Json]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), MAX_POLL_SECONDS)
        deadline = time.monotonic() + timeout
        with self._lock:
            if self.webhook_url:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
            if offset:
                # As Telegram: an offset confirms every update before it.
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return list(self._updates)

    # Control ----------------------------------------------------------------------

    def control(self, verb: str, path: str, query: Json, body: Json) -> Any:
        if verb == "POST" and path == "/__local/inject":
            chat_id = int(body["chat_id"])
            username = str(body.get("username") or "trader")
            if "callback_data" in body:
                return self.inject_callback(chat_id, str(body["callback_data"]), username)
            return self.inject_message(chat_id, str(body["text"]), username)
        if verb == "GET" and path == "/__local/sent":
            return self.sent(int(query["chat_id"]))
        if verb == "POST" and path == "/__local/throttle":
            self.throttle(int(body.get("count", 1)), int(body.get("retry_after", 3)))
            return True
        raise ApiError(404, "Not Found")


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


def _as_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _command_entities(text: str) -> list[Json]:
    if not text.startswith("/"):
        return []
    length = len(text.split(maxsplit=1)[0])
    return [{"type": "bot_command", "offset": 0, "length": length}]


def _handler_for(api: LocalBotApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug(format, *args)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, verb: str) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            try:
                body = self._body()
                if parts.path.startswith("/__local/"):
                    self._reply(200, {"ok": True, "result": api.control(verb, parts.path, query, body)})
                    return
                token, _, method = parts.path.removeprefix("/bot").partition("/")
                if not parts.path.startswith("/bot") or token != api.token:
                    raise ApiError(401, "Unauthorized")
                self._reply(200, {"ok": True, "result": api.call(method, {**query, **body})})
            except ApiError as error:
                payload: Json = {"ok": False, "error_code": error.code, "description": error.description}
                if error.parameters:
                    payload["parameters"] = error.parameters
                self._reply(error.code, payload)
            except (KeyError, ValueError) as error:
                self._reply(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"})

        def _body(self) -> Json:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            kind = self.headers.get("Content-Type", "")
            if "json" in kind:
                data = json.loads(raw)
                return data if isinstance(data, dict) else {}
            if "multipart/form-data" in kind:
                return _multipart(raw, kind)
            return dict(parse_qsl(raw.decode()))

        def _reply(self, status: int, payload: Json) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _multipart(raw: bytes, content_type: str) -> Json:
    """Form fields of a multipart body (python-telegram-bot posts this way when it sends files)."""
    from email.parser import BytesParser
    from email.policy import default

    message = BytesParser(policy=default).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: Json = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = part.get_content()
    return fields

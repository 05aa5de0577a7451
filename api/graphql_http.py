"""GraphQL over HTTP: a lean pipeline of our own around graphql-core.

Parsing and validation (standard rules plus depth and alias limits) are cached per
query text, so a repeated query costs only its execution. Results are encoded with
orjson. Media types and status codes follow the GraphQL-over-HTTP spec:
`application/graphql-response+json` when the client accepts it (4xx for request
errors), `application/json` otherwise.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationType,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql import execute as gql_execute
from graphql.pyutils import is_awaitable
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.protections import alias_limit_rule, depth_limit_rule
from core import i18n
from core.errors import Unauthenticated
from core.settings import Settings
from core.storage import Upload

log = logging.getLogger("linli.graphql")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MULTIPART = "multipart/form-data"
# Room for the multipart framing and the `operations`/`map` fields beside the files.
MULTIPART_OVERHEAD = 64 * 1024


@dataclass(slots=True)
class Compiled:
    document: DocumentNode | None
    errors: list[GraphQLError]


class DocumentCache:
    """LRU of parsed and validated documents keyed by the query text."""

    def __init__(self, schema: strawberry.Schema, settings: Settings) -> None:
        self._schema = schema._schema
        self._max = settings.graphql_document_cache_size
        self._max_tokens: int | None = settings.graphql_max_tokens
        self._rules: tuple[Any, ...] = (
            *specified_rules,
            depth_limit_rule(settings.graphql_max_depth),
            alias_limit_rule(settings.graphql_max_aliases),
        )
        if not settings.graphql_protections:
            # Only for `make bench`'s "protections on / off" ratio; see core.settings.
            self._max_tokens = None
            self._rules = tuple(specified_rules)
        self._entries: OrderedDict[str, Compiled] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, query: str) -> Compiled:
        entry = self._entries.get(query)
        if entry is not None:
            self.hits += 1
            self._entries.move_to_end(query)
            return entry
        self.misses += 1
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError as exc:
            entry = Compiled(None, [exc])
        else:
            errors = validate(self._schema, document, self._rules)
            entry = Compiled(None if errors else document, list(errors))
        self._entries[query] = entry
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return entry


class RequestError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.message = message
        self.headers = headers or {}


def _is_client_error(err: GraphQLError) -> bool:
    original = err.original_error
    if original is None:
        return True  # graphql-core's own errors: coercion, validation, null checks
    return isinstance(original, GraphQLError)


def mask_errors(errors: list[GraphQLError], locale: str, request_id: str | None) -> list[dict]:
    out = []
    for err in errors:
        if _is_client_error(err):
            out.append(err.formatted)
            continue
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(str(p) for p in err.path or ()),
            request_id,
            exc_info=err.original_error,
        )
        masked = GraphQLError(
            i18n.translate("error.internal", locale),
            path=err.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
        formatted = masked.formatted
        if err.locations:
            formatted["locations"] = [
                {"line": loc.line, "column": loc.column} for loc in err.locations
            ]
        out.append(formatted)
    return out


def _choose_media_type(accept: str | None) -> str:
    if not accept:
        return JSON
    best = None
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            cand = GRAPHQL_RESPONSE
        elif media in (JSON, "application/*", "*/*"):
            # Wildcards keep the legacy answer: existing clients expect 200 + JSON.
            cand = JSON
        else:
            continue
        if best is None or q > best[0] or (q == best[0] and cand == GRAPHQL_RESPONSE):
            best = (q, cand)
    if best is None:
        raise RequestError(
            406, "Accept must allow application/graphql-response+json or application/json"
        )
    return best[1]


class GraphQLHTTP:
    def __init__(
        self,
        schema: strawberry.Schema,
        settings: Settings,
        make_context: Callable[[Request], Any],
        graphiql: bool,
    ) -> None:
        self.schema = schema
        self.settings = settings
        self.cache = DocumentCache(schema, settings)
        self.make_context = make_context
        self.graphiql = graphiql
        self._exec_kwargs = execution_context_class_kwargs(StrawberryGraphQLCoreExecutionContext)

    async def handle(self, request: Request) -> Response:
        if request.method == "GET" and self.graphiql and "query" not in request.query_params:
            if "text/html" in request.headers.get("accept", ""):
                return HTMLResponse(GRAPHIQL_HTML)
        try:
            media = _choose_media_type(request.headers.get("accept"))
        except RequestError as exc:
            return _plain_error(exc)
        try:
            params = await self._params(request)
            return await self._execute(request, params, media)
        except RequestError as exc:
            return _error_response(exc, media)

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            qp = request.query_params
            params: dict[str, Any] = {
                "query": qp.get("query"),
                "operationName": qp.get("operationName") or None,
            }
            raw_vars = qp.get("variables")
            if raw_vars:
                try:
                    params["variables"] = orjson.loads(raw_vars)
                except orjson.JSONDecodeError:
                    raise RequestError(400, "variables is not valid JSON") from None
            raw_ext = qp.get("extensions")
            if raw_ext:
                try:
                    params["extensions"] = orjson.loads(raw_ext)
                except orjson.JSONDecodeError:
                    raise RequestError(400, "extensions is not valid JSON") from None
            return self._check_params(params)
        if request.method != "POST":
            raise RequestError(405, "Use GET or POST", {"Allow": "GET, POST"})
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == MULTIPART:
            return self._check_params(await self._multipart_params(request))
        if ctype != JSON:
            raise RequestError(415, "Content-Type must be application/json or multipart/form-data")
        body = await self._read_body(request, self.settings.graphql_max_body_bytes)
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise RequestError(400, "Body is not valid JSON") from None
        if not isinstance(params, dict):
            raise RequestError(400, "Body must be a JSON object")
        return self._check_params(params)

    @staticmethod
    async def _read_body(request: Request, limit: int) -> bytearray:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestError(413, f"Request body exceeds {limit} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise RequestError(413, f"Request body exceeds {limit} bytes")
        return body

    async def _multipart_params(self, request: Request) -> dict[str, Any]:
        """The GraphQL multipart request spec: an `operations` JSON field, a `map` JSON
        field naming where each file goes ({"0": ["variables.input.photos.0"]}), then the
        files. Each file becomes a `core.storage.Upload` at its path in the variables.

        The body is bounded (files × per-file limit + the JSON limit) and so is the file
        count; per-file size and the real image type are the domain's to check, so that
        a refusal names the offending file in `userErrors`. Clients authenticate with a
        bearer header, which a cross-site form cannot send, so no CSRF preflight header
        is required.
        """
        s = self.settings
        limit = s.graphql_max_body_bytes + s.upload_max_files * s.upload_max_bytes
        body = await self._read_body(request, limit + MULTIPART_OVERHEAD)

        async def stream() -> AsyncIterator[bytes]:
            yield bytes(body)

        parser = MultiPartParser(
            request.headers,
            stream(),
            max_files=s.upload_max_files,
            max_fields=2,
            max_part_size=s.graphql_max_body_bytes,
        )
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            raise RequestError(400, f"Bad multipart request: {exc.message}") from None
        try:
            operations = orjson.loads(_text_field(form.get("operations"), "operations"))
            mapping = orjson.loads(_text_field(form.get("map"), "map"))
        except orjson.JSONDecodeError:
            raise RequestError(400, "operations and map must be JSON") from None
        if isinstance(operations, list):
            raise RequestError(400, "Batched operations are not supported")
        if not isinstance(operations, dict):
            raise RequestError(400, "operations must be a JSON object")
        if not isinstance(mapping, dict):
            raise RequestError(400, "map must be a JSON object")
        used: set[str] = set()
        for key, paths in mapping.items():
            part = form.get(key)
            if not isinstance(part, UploadFile):
                raise RequestError(400, f"map names file {key!r}, which was not sent")
            if not isinstance(paths, list) or not paths:
                raise RequestError(400, f"map entry {key!r} must be a list of paths")
            data = await part.read()
            upload = Upload(data=data, filename=part.filename, declared_type=part.content_type)
            for path in paths:
                _place(operations, path, upload)
            used.add(key)
        extra = [k for k, v in form.multi_items() if isinstance(v, UploadFile) and k not in used]
        await form.close()
        if extra:
            raise RequestError(400, f"Files not named in map: {sorted(extra)}")
        return operations

    @staticmethod
    def _check_params(params: dict[str, Any]) -> dict[str, Any]:
        query = params.get("query")
        if not isinstance(query, str) or not query:
            raise RequestError(400, "query must be a non-empty string")
        variables = params.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise RequestError(400, "variables must be an object")
        op = params.get("operationName")
        if op is not None and not isinstance(op, str):
            raise RequestError(400, "operationName must be a string")
        ext = params.get("extensions")
        if ext is not None and not isinstance(ext, dict):
            raise RequestError(400, "extensions must be an object")
        return params

    async def _execute(self, request: Request, params: dict[str, Any], media: str) -> Response:
        compiled = self.cache.get(params["query"])
        request_id = getattr(request.state, "request_id", None)
        if compiled.document is None:
            status = 400 if media == GRAPHQL_RESPONSE else 200
            return _result_response(
                {"errors": [e.formatted for e in compiled.errors]}, status, media
            )
        operation = get_operation_ast(compiled.document, params.get("operationName"))
        if operation is None:
            raise RequestError(400, "Operation not found or ambiguous")
        if request.method == "GET" and operation.operation != OperationType.QUERY:
            raise RequestError(405, "Only queries may use GET", {"Allow": "POST"})
        if operation.operation == OperationType.SUBSCRIPTION:
            raise RequestError(400, "Subscriptions need the WebSocket endpoint")
        try:
            ctx = await self.make_context(request)
        except Unauthenticated:
            locale = i18n.negotiate(request.headers.get("accept-language"))
            body = {
                "errors": [
                    {
                        "message": i18n.translate("error.unauthenticated", locale),
                        "extensions": {"code": "UNAUTHENTICATED"},
                    }
                ]
            }
            return _result_response(body, 401, media, {"WWW-Authenticate": "Bearer"})
        try:
            result = gql_execute(
                self.schema._schema,
                compiled.document,
                context_value=ctx,
                variable_values=params.get("variables"),
                operation_name=params.get("operationName"),
                **self._exec_kwargs,
            )
            if is_awaitable(result):
                result = await result  # type: ignore[misc]
        finally:
            await ctx.close()
        assert isinstance(result, ExecutionResult)
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = mask_errors(list(result.errors), ctx.locale, request_id)
        payload["data"] = result.data
        status = 200
        if result.data is None and result.errors and media == GRAPHQL_RESPONSE:
            # Nothing executed (e.g. variables failed to coerce): a request error.
            status = 400
            payload.pop("data")
        return _result_response(payload, status, media)


def _text_field(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise RequestError(400, f"The multipart request lacks the {name!r} field")
    return value


def _place(operations: dict[str, Any], path: Any, upload: Upload) -> None:
    """Put a file where `map` says, e.g. "variables.input.photos.1"; the spec has the
    client send null there."""
    if not isinstance(path, str) or not path.startswith("variables."):
        raise RequestError(400, f"Bad file path in map: {path!r}")
    parts = path.split(".")
    node: Any = operations
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict) and part in node:
            if last:
                if node[part] is not None:
                    raise RequestError(400, f"{path} must be null in operations")
                node[part] = upload
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            if last:
                if node[int(part)] is not None:
                    raise RequestError(400, f"{path} must be null in operations")
                node[int(part)] = upload
            node = node[int(part)]
        else:
            raise RequestError(400, f"map path {path} does not exist in operations")


def _result_response(
    payload: dict[str, Any], status: int, media: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(payload),
        status_code=status,
        media_type=f"{media}; charset=utf-8",
        headers=headers,
    )


def _error_response(exc: RequestError, media: str) -> Response:
    body = {"errors": [{"message": exc.message}]}
    return _result_response(body, exc.status, media, exc.headers)


def _plain_error(exc: RequestError) -> Response:
    return Response(
        orjson.dumps({"errors": [{"message": exc.message}]}),
        status_code=exc.status,
        media_type=JSON,
        headers=exc.headers,
    )


GRAPHIQL_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Linli GraphiQL</title>
<style>body{margin:0;height:100vh}#graphiql{height:100vh}</style>
<link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css"/>
</head><body><div id="graphiql">Loading GraphiQL…</div>
<script crossorigin src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
<script crossorigin src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
<script crossorigin src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
<script>
const fetcher = GraphiQL.createFetcher({url: location.pathname,
  subscriptionUrl: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
  location.pathname});
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {fetcher, defaultEditorToolsVisibility: true,
    defaultHeaders: '{"Authorization": "Bearer <accessToken from signIn>"}'}));
</script></body></html>
"""

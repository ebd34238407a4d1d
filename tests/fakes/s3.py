"""A loopback S3-compatible object store: the subset of the protocol the model store uses.

Path-style addressing (`/<bucket>/<key>`): PutObject, GetObject, HeadObject, DeleteObject
and ListObjectsV2 (with continuation), errors as S3's XML bodies. Every request must
carry a SigV4 `Authorization` header for the configured access key, and a signed payload
hash is checked against the body, as S3 does. `objects` is open to tests (to corrupt or
inspect what was stored); `requests` counts them by method.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from xml.sax.saxutils import escape

from aiohttp import web

ACCESS_KEY = "fake-access-key"
SECRET_KEY = "fake-secret-key"
PAGE = 1000


class FakeS3:
    def __init__(self, buckets: tuple[str, ...] = ("models",), page: int = PAGE) -> None:
        self.objects: dict[str, dict[str, bytes]] = {b: {} for b in buckets}
        self.requests: Counter[str] = Counter()
        self.page = page
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeS3:
        app = web.Application(client_max_size=1 << 31)
        app.router.add_route("*", "/{bucket}", self._bucket)
        app.router.add_route("*", "/{bucket}/{key:.+}", self._object)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the protocol -----------------------------------------------------------------------------

    def _refuse(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or f"Credential={ACCESS_KEY}/" not in auth:
            return _error(403, "AccessDenied", "Access Denied")
        bucket = request.match_info["bucket"]
        if bucket not in self.objects:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist")
        return None

    async def _bucket(self, request: web.Request) -> web.Response:
        self.requests[request.method] += 1
        if (refused := self._refuse(request)) is not None:
            return refused
        if request.method != "GET" or request.query.get("list-type") != "2":
            return _error(501, "NotImplemented", "only ListObjectsV2 is implemented")
        stored = self.objects[request.match_info["bucket"]]
        prefix = request.query.get("prefix", "")
        after = request.query.get("continuation-token") or request.query.get("start-after", "")
        keys = sorted(k for k in stored if k.startswith(prefix) and k > after)
        page, more = keys[: self.page], len(keys) > self.page
        contents = "".join(
            f"<Contents><Key>{escape(k)}</Key><Size>{len(stored[k])}</Size>"
            f"<ETag>&quot;{hashlib.md5(stored[k]).hexdigest()}&quot;</ETag>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for k in page
        )
        token = f"<NextContinuationToken>{escape(page[-1])}</NextContinuationToken>" if more else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{request.match_info['bucket']}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(page)}</KeyCount><MaxKeys>{self.page}</MaxKeys>"
            f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>{token}{contents}"
            "</ListBucketResult>"
        )
        return web.Response(body=body.encode(), content_type="application/xml")

    async def _object(self, request: web.Request) -> web.StreamResponse:
        self.requests[request.method] += 1
        if (refused := self._refuse(request)) is not None:
            return refused
        stored = self.objects[request.match_info["bucket"]]
        key = request.match_info["key"]
        if request.method == "PUT":
            body = await request.read()
            declared = request.headers.get("x-amz-content-sha256", "")
            if len(declared) == 64 and declared != hashlib.sha256(body).hexdigest():
                return _error(400, "XAmzContentSHA256Mismatch", "payload hash mismatch")
            stored[key] = body
            return web.Response(headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})
        if request.method == "DELETE":
            stored.pop(key, None)
            return web.Response(status=204)
        if request.method in ("GET", "HEAD"):
            if key not in stored:
                return _error(404, "NoSuchKey", "The specified key does not exist.")
            body = stored[key]
            headers = {"ETag": f'"{hashlib.md5(body).hexdigest()}"'}
            if request.method == "HEAD":
                return web.Response(headers={**headers, "Content-Length": str(len(body))})
            response = web.StreamResponse(headers=headers)
            response.content_length = len(body)
            response.content_type = "binary/octet-stream"
            await response.prepare(request)
            for start in range(0, len(body), 1 << 16):
                await response.write(body[start : start + (1 << 16)])
            await response.write_eof()
            return response
        return _error(501, "NotImplemented", f"{request.method} is not implemented")


def _error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return web.Response(status=status, body=body.encode(), content_type="application/xml")

"""Credentials of streaming accounts, added to each request as it leaves (httpx `Auth` flows).

Bearer tokens and HTTP basic are fixed headers. OAuth2 client credentials fetch a token from the
account's token endpoint, keep it until shortly before it expires, and fetch a new one then, or at
once when the destination answers 401 (the request is then sent once more with the new token). A
token is never logged, stored, or shown in an error; `secret_values` names it for the redactor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator
from typing import Literal

import httpx

from accord.destinations.exceptions import TokenRefusedError
from accord.retries import RetryableAnswer, worth_retrying


class BearerToken(httpx.Auth):
    """`Authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def secret_values(self) -> list[str]:
        return [self._token]


class BasicCredentials(httpx.BasicAuth):
    def __init__(self, username: str, password: str) -> None:
        super().__init__(username, password)
        self._values = [password, self._auth_header.split(" ", 1)[1]]

    def secret_values(self) -> list[str]:
        return list(self._values)


class OAuth2ClientCredentials(httpx.Auth):
    """The OAuth2 client credentials grant, with the token kept until it expires and renewed on a 401."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        credentials_in: Literal["body", "header"] = "body",
    ) -> None:
        self.token_url, self.client_id, self._client_secret = token_url, client_id, client_secret
        self.scope, self.credentials_in = scope, credentials_in
        self._token: str | None = None
        self._expires = 0.0
        self._lock: asyncio.Lock | None = None
        self.tokens_fetched = 0

    def secret_values(self) -> list[str]:
        return [self._client_secret] + ([self._token] if self._token else [])

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"} | ({"scope": self.scope} if self.scope else {})
        headers = {"Accept": "application/json"}
        if self.credentials_in == "header":
            headers["Authorization"] = httpx.BasicAuth(self.client_id, self._client_secret)._auth_header
        else:
            form |= {"client_id": self.client_id, "client_secret": self._client_secret}
        return httpx.Request("POST", self.token_url, data=form, headers=headers)

    def _take(self, response: httpx.Response) -> str:
        if worth_retrying(response.status_code):
            raise RetryableAnswer(response)
        if response.status_code != 200:
            raise TokenRefusedError(response.status_code)
        try:
            answer = response.json()
            token = str(answer["access_token"])
        except (ValueError, KeyError, TypeError):
            raise TokenRefusedError(response.status_code) from None
        lifetime = float(answer.get("expires_in") or 3600)
        # renew a little before the end, so that a token never expires on its way
        self._token, self._expires = token, time.monotonic() + lifetime - min(30.0, lifetime / 10)
        self.tokens_fetched += 1
        return token

    def _fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # requests under way together wait for one token, not one each
            if not self._fresh():
                self._take(await _fetch((yield self._token_request())))
            used = self._token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code == 401:
            async with self._lock:
                if self._token == used:  # not renewed meanwhile by another request
                    self._take(await _fetch((yield self._token_request())))
                used = self._token
            request.headers["Authorization"] = f"Bearer {used}"
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._fresh():
            response = yield self._token_request()
            response.read()
            self._take(response)
        used = self._token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code == 401:
            token_response = yield self._token_request()
            token_response.read()
            request.headers["Authorization"] = f"Bearer {self._take(token_response)}"
            yield request


async def _fetch(response: httpx.Response) -> httpx.Response:
    await response.aread()
    return response

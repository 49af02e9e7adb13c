"""What the AWS backends (s3, sqs, cloudwatch, xray) share: the client keys, one aiobotocore client
per backend, and how an AWS failure maps to the backend errors.

Credentials come from botocore's standard chain, in its order: the environment
(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN), the shared files
(~/.aws/credentials, ~/.aws/config, the `profile` key or AWS_PROFILE), web identity / SSO, the
container's and the instance's role. None is ever written in the sidecar's configuration.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import msgspec
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from .base import ConfigurationError, TransientError
from .http_client import check_url

#: AWS error codes that say "slow down / try again": retried, never dead-lettered.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


class AwsClientConfig(msgspec.Struct, kw_only=True):
    """The keys every AWS backend takes (its own keys come on top)."""

    region: str | None = None  # e.g. eu-west-1; else AWS_REGION / AWS_DEFAULT_REGION / the profile's
    endpoint_url: str | None = None  # an S3-compatible store, a VPC endpoint, an emulator
    profile: str | None = None  # a named profile of ~/.aws/config; else AWS_PROFILE / the default chain
    timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 30.0  # seconds, connect and read each
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3  # botocore's own tries per call


def check_client_config(settings: AwsClientConfig, name: str) -> None:
    """ConfigurationError naming the key when endpoint_url is not an http(s) URL or a name is empty."""
    if settings.endpoint_url is not None:
        check_url(settings.endpoint_url, "endpoint_url", name)
    for key in ("region", "profile"):
        value = getattr(settings, key)
        if value is not None and not value.strip():
            raise ConfigurationError(f"backend {name!r}: config.{key} must not be empty when given")


class AwsClient:
    """One aiobotocore client for `service`, opened by open() and closed by close()."""

    def __init__(self, service: str, settings: AwsClientConfig, **config: Any) -> None:
        self.service = service
        self.settings = settings
        self.config = config  # extra AioConfig keywords (e.g. s3={"addressing_style": "path"})
        self._stack = contextlib.AsyncExitStack()
        self.client: Any = None

    async def open(self) -> Any:
        s = self.settings
        session = AioSession(profile=s.profile)
        config = AioConfig(
            connect_timeout=s.timeout,
            read_timeout=s.timeout,
            retries={"max_attempts": s.max_attempts, "mode": "standard"},
            **self.config,
        )
        create: Any = session.create_client  # typed per service name; ours is one of several
        try:
            self.client = await self._stack.enter_async_context(
                create(self.service, region_name=s.region, endpoint_url=s.endpoint_url, config=config)
            )
        except NoRegionError:
            raise ConfigurationError(
                f"no AWS region for {self.service}: set config.region, AWS_REGION or the profile's region"
            ) from None
        return self.client

    async def close(self) -> None:
        await self._stack.aclose()
        self.client = None


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError ("" when the answer had none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def as_transient(exc: Exception, where: str) -> TransientError:
    """A TransientError in our words for an AWS call that failed as a whole (the caller raises it):
    no credentials, no connection, a throttle, a 5xx, or a refusal someone fixes (access denied, no
    such bucket / queue, a KMS key not usable) — none of them says anything about single events."""
    if isinstance(exc, NoCredentialsError):
        return TransientError(f"{where}: no AWS credentials found (environment, shared files, profile, role)")
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = exc.response.get("Error", {}).get("Message", "")
        return TransientError(f"{where}: AWS answered HTTP {status} {error_code(exc)}: {message}".rstrip(": "))
    if isinstance(exc, BotoCoreError | OSError | TimeoutError):
        return TransientError(f"{where}: {type(exc).__name__}: {exc}")
    return TransientError(f"{where}: unexpected {type(exc).__name__}: {exc}")

"""The HTTP client the API providers share: urllib3 with pooled connections, and status-code classification."""
from __future__ import annotations

import urllib3

from .base import PermanentError, TransientError

DEFAULT_TIMEOUT = 10.0

_pool = urllib3.PoolManager(num_pools=20, maxsize=4, retries=False)


def request(method: str, url: str, *, what: str, timeout: float = DEFAULT_TIMEOUT,
            **kwargs) -> urllib3.BaseHTTPResponse:
    """Send one request; network failures become TransientError with a plain message naming `what`."""
    try:
        return _pool.request(method, url, timeout=urllib3.Timeout(total=timeout), **kwargs)
    except urllib3.exceptions.NewConnectionError:
        # Checked first: urllib3 makes it a subclass of its timeout error.
        raise TransientError(f"{what} could not be reached") from None
    except urllib3.exceptions.TimeoutError:
        raise TransientError(f"{what} did not answer within {timeout:g} s") from None
    except urllib3.exceptions.HTTPError:
        raise TransientError(f"{what} could not be reached") from None


def raise_for_status(response: urllib3.BaseHTTPResponse, what: str) -> None:
    status = response.status
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise PermanentError(f"{what} rejected the API key ({status})")
    if status == 429:
        raise TransientError(f"{what} is rate limiting us (429); we will try again later")
    if status >= 500:
        raise TransientError(f"{what} had a server error ({status}); we will try again later")
    raise PermanentError(f"{what} refused the email ({status}): {_short_reason(response)}")


def _short_reason(response: urllib3.BaseHTTPResponse) -> str:
    text = (response.data or b"")[:300].decode("utf-8", errors="replace").strip()
    return " ".join(text.split()) or "no details given"

"""Telling a Kafka connection failure an operator must fix (TLS trust) from an outage to wait out.

kafka-python retries a failed TLS handshake like any other connection failure and,
when its bootstrap deadline passes, raises ``KafkaTimeoutError("Unable to bootstrap
from [...]")`` without the TLS error as its cause: the reason is only in its own log
lines. :func:`tls_handshake_failure` therefore makes one handshake of its own, with
the context kafka-python would build from the same settings, and
:func:`describe_kafka_failure` turns what failed into one line for the operator.
"""

from __future__ import annotations

import re
import socket
import ssl
from pathlib import Path

# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
_NAME_MISMATCH_CODES = frozenset({62, 64})
_VERIFY_FAILED_TEXT = re.compile(r"certificate verify failed: ([^(\]]+?)\s*(?:\(_ssl\.c:\d+\))?\s*$")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or while handling, without repeats."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _verification(error: ssl.SSLCertVerificationError) -> str:
    detail = error.verify_message or error.reason or str(error)
    if error.verify_code in _NAME_MISMATCH_CODES:
        return (
            f"TLS certificate verification failed: {detail} (the broker's certificate does not name "
            "the host in CLEARANCE_KAFKA_BOOTSTRAP_SERVERS)"
        )
    return (
        f"TLS certificate verification failed: {detail} (is CLEARANCE_KAFKA_SSL_CAFILE the CA that "
        "signed the broker's certificate?)"
    )


def describe_kafka_failure(exc: BaseException, server: str | None = None) -> str | None:
    """One line naming a TLS failure in ``exc`` or the exceptions it came from; None for anything else.

    Recognises a certificate the configured CA does not vouch for, a certificate for
    another host name, and any other TLS handshake failure (for example a broker that
    does not speak TLS on that port). A refused or timed-out connection is not a TLS
    failure: it gives None, so the caller keeps treating it as an outage.
    """
    where = f"Kafka broker {server}: " if server else ""
    for error in _chain(exc):
        if isinstance(error, ssl.SSLCertVerificationError):
            return where + _verification(error)
    for error in _chain(exc):
        if isinstance(error, ssl.SSLError) and not isinstance(error, ssl.SSLZeroReturnError | ssl.SSLEOFError):
            reason = error.reason or str(error)
            hint = " (does the broker listen with TLS on this port?)" if reason == "WRONG_VERSION_NUMBER" else ""
            return f"{where}TLS handshake failed: {reason}{hint}"
    for error in _chain(exc):
        # kafka-python formats the SSL error into its own message ("Handshake failed: [SSL: ...]").
        match = _VERIFY_FAILED_TEXT.search(str(error))
        if match and "CERTIFICATE_VERIFY_FAILED" in str(error):
            return (
                f"{where}TLS certificate verification failed: {match.group(1)} "
                "(is CLEARANCE_KAFKA_SSL_CAFILE the CA that signed the broker's certificate?)"
            )
    return None


def client_tls_context(cafile: Path | None, check_hostname: bool = True) -> ssl.SSLContext:
    """The TLS context kafka-python builds for ``security_protocol`` SSL or SASL_SSL with these settings."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = check_hostname
    if cafile is not None:
        context.load_verify_locations(str(cafile))
    else:
        context.load_default_certs()
    return context


def tls_handshake_failure(server: str, cafile: Path | None, timeout: float = 5.0) -> ssl.SSLError | None:
    """Make one TLS handshake with ``server`` (``host:port``); return its TLS error, if it had one.

    None when the handshake succeeded and also when no TCP connection could be made
    (refused, unreachable, timed out): that is an outage, which the service waits out,
    not a trust problem. This is I/O; :func:`describe_kafka_failure` words the result.
    """
    host, _, port = server.strip().rpartition(":")
    host = host.strip("[]")
    context = client_tls_context(cafile)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host.rstrip(".")):
                return None
    except ssl.SSLError as exc:
        return exc
    except OSError:
        return None

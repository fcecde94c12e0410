#!/usr/bin/env python3
"""Render the nginx site and the systemd units for one host (standard library only: runs before the venv).

    python3 deploy/render.py --server-name medvlm.hospital.local \
        --cert /etc/ssl/medvlm/medvlm.crt --key /etc/ssl/medvlm/medvlm.key --out /tmp/medvlm-deploy

writes OUT/nginx/medvlm.conf and OUT/systemd/*.service (with --prefix replacing /opt/medvlm). A
placeholder left unfilled, or a value that would break the nginx syntax, stops it with one line on stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_UNSAFE = re.compile(r"[\s;{}#'\"$]")


class RenderError(ValueError):
    pass


def render_nginx(
    *,
    server_name: str,
    cert: str,
    key: str,
    upstream: str = "127.0.0.1:8000",
    https_listen: str = "443",
    http_listen: str = "80",
    max_body: str = "1g",
) -> str:
    values = {
        "SERVER_NAME": server_name,
        "CERT": cert,
        "KEY": key,
        "UPSTREAM": upstream,
        "HTTPS_LISTEN": https_listen,
        "HTTP_LISTEN": http_listen,
        "MAX_BODY": max_body,
    }
    for name, value in values.items():
        if not value or _UNSAFE.search(value):
            raise RenderError(
                f"--{name.lower().replace('_', '-')} {value!r}: empty or contains a space, ;, {{, }}, "
                "#, quote or $"
            )
    port = https_listen.rsplit(":", 1)[-1]
    values["HTTPS_PORT_SUFFIX"] = "" if port == "443" else f":{port}"  # the redirect's target port
    text = (HERE / "nginx" / "medvlm.conf.in").read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RenderError(f"placeholders left unfilled: {sorted(set(left))}")
    return text


def render_units(prefix: str = "/opt/medvlm") -> dict[str, str]:
    if _UNSAFE.search(prefix) or not prefix.startswith("/"):
        raise RenderError(f"--prefix {prefix!r}: an absolute path without spaces or quotes is needed")
    return {
        path.name: path.read_text().replace("/opt/medvlm", prefix.rstrip("/"))
        for path in sorted((HERE / "systemd").glob("*.service"))
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server-name", required=True, help="the name clients use (must match the certificate)"
    )
    parser.add_argument("--cert", required=True, help="PEM certificate chain file")
    parser.add_argument("--key", required=True, help="PEM private key file")
    parser.add_argument("--upstream", default="127.0.0.1:8000", help="where `medvlm serve` listens")
    parser.add_argument("--https-listen", default="443", help="nginx TLS listen (port or address:port)")
    parser.add_argument("--http-listen", default="80", help="nginx plain-HTTP listen (redirects only)")
    parser.add_argument("--max-body", default="1g", help="largest upload (nginx size, e.g. 1g)")
    parser.add_argument("--prefix", default="/opt/medvlm", help="where MedVLM and its .venv are installed")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        nginx = render_nginx(
            server_name=args.server_name,
            cert=args.cert,
            key=args.key,
            upstream=args.upstream,
            https_listen=args.https_listen,
            http_listen=args.http_listen,
            max_body=args.max_body,
        )
        units = render_units(args.prefix)
    except (RenderError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    (args.out / "nginx").mkdir(parents=True, exist_ok=True)
    (args.out / "systemd").mkdir(parents=True, exist_ok=True)
    (args.out / "nginx" / "medvlm.conf").write_text(nginx)
    for name, text in units.items():
        (args.out / "systemd" / name).write_text(text)
    print(f"wrote {args.out / 'nginx' / 'medvlm.conf'} and {len(units)} unit(s) in {args.out / 'systemd'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

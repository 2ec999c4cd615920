"""Render deploy/nginx/minigo.conf for one site.

    python3 deploy/render_nginx.py --server-name shop.example > /etc/nginx/sites-available/minigo

With TLS (the default) the site listens on 443 with the certificate given (Let's Encrypt's
paths by default) and port 80 redirects to it; --no-tls serves plain HTTP on --listen (behind
another TLS terminator, or in the deploy test).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx" / "minigo.conf"

TLS = """    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers off;
    ssl_session_timeout 1d;
    ssl_session_cache shared:MiniGoTLS:10m;
    add_header Strict-Transport-Security "max-age=31536000" always;
"""

REDIRECT = """
server {{
    listen 80;
    listen [::]:80;
    server_name {name};
    location / {{
        return 301 https://$host$request_uri;
    }}
}}
"""


def render(
    *,
    server_name: str,
    upstream: str = "127.0.0.1:8000",
    static_root: str = "/var/lib/minigo/staticfiles",
    body_max: str = "64m",
    tls: bool = True,
    listen: str = "",
    cert: str = "",
    key: str = "",
) -> str:
    if tls:
        cert = cert or f"/etc/letsencrypt/live/{server_name}/fullchain.pem"
        key = key or f"/etc/letsencrypt/live/{server_name}/privkey.pem"
        listen = listen or "443 ssl"
    else:
        listen = listen or "80"
    fields = {
        "@@SERVER_NAME@@": server_name,
        "@@UPSTREAM@@": upstream,
        "@@STATIC_ROOT@@": static_root.rstrip("/"),
        "@@BODY_MAX@@": body_max,
        "@@LISTEN@@": listen,
        "@@TLS@@": TLS.format(cert=cert, key=key) if tls else "",
        "@@HTTP_REDIRECT@@": REDIRECT.format(name=server_name) if tls else "",
    }
    text = TEMPLATE.read_text()
    for name, value in fields.items():
        text = text.replace(name, value)
    if "@@" in text:
        raise ValueError("the template has a field render() does not fill")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-name", required=True, help="e.g. shop.example")
    parser.add_argument("--upstream", default="127.0.0.1:8000", help="daphne's address")
    parser.add_argument("--static-root", default="/var/lib/minigo/staticfiles")
    parser.add_argument("--body-max", default="64m", help="= MINIGO_BODY_MAX_BYTES")
    parser.add_argument("--no-tls", dest="tls", action="store_false")
    parser.add_argument("--listen", default="", help="default 443 ssl (80 with --no-tls)")
    parser.add_argument("--cert", default="")
    parser.add_argument("--key", default="")
    args = parser.parse_args(argv)
    sys.stdout.write(render(**vars(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

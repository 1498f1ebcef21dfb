"""`make review`: serve the workbench with uvicorn (default http://127.0.0.1:8080).

    python -m web [--host 127.0.0.1] [--port 8080] [--workers 1]
"""

from __future__ import annotations

import argparse
import os

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(prog="make review", description="启动核查工作台")
    parser.add_argument("--host", default=os.environ.get("WEB_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", "8080")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "1")))
    args = parser.parse_args()
    print(f"核查工作台:http://{args.host}:{args.port}/ (Ctrl+C 停止)")
    uvicorn.run("web.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                proxy_headers=True, forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"))


if __name__ == "__main__":
    main()

"""`make add-officer`: create an officer account (asks for the password twice, never echoes it).

    python -m web.add_officer USERNAME --role city|district|street [--district 江夏区] [--street 纸坊街道] [--name 张三]
    USERNAME=… ROLE=… [DISTRICT=…] [STREET=…] [NAME=…] python -m web.add_officer --from-env

`--from-env` (what `make add-officer` runs) reads the values from those environment variables, so
that no shell ever interprets what an officer typed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from .accounts import ROLE_LABELS, AccountError, add_officer
from .service import Settings
from .store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make add-officer", description="创建核查工作台账号")
    parser.add_argument("username", nargs="?", help="登录用户名")
    parser.add_argument("--from-env", action="store_true",
                        help="从环境变量 USERNAME、ROLE、DISTRICT、STREET、NAME 读取")
    parser.add_argument("--role", choices=list(ROLE_LABELS),
                        help="; ".join(f"{k}={v}" for k, v in ROLE_LABELS.items()))
    parser.add_argument("--district", help="所属区(区级、街道核查员必填),如 江夏区")
    parser.add_argument("--street", help="所属街道(街道核查员必填),如 纸坊街道")
    parser.add_argument("--name", help="显示姓名(记入核查结论的核查人),默认同用户名")
    args = parser.parse_args(argv)
    if args.from_env:
        for field in ("username", "role", "district", "street", "name"):
            setattr(args, field, os.environ.get(field.upper()) or None)
    if not args.username or args.role not in ROLE_LABELS:
        print("用法: make add-officer USERNAME=用户名 ROLE=city|district|street [DISTRICT=区] [STREET=街道] "
              "[NAME=姓名]", file=sys.stderr)
        return 2
    password = getpass.getpass("请输入密码(至少 8 位,输入时不显示):")
    if getpass.getpass("请再次输入密码:") != password:
        print("两次输入的密码不一致,账号未创建。", file=sys.stderr)
        return 2
    settings = Settings.from_environment()
    try:
        o = add_officer(Store(settings.store_path), args.username, args.name or args.username, args.role, password,
                        district=args.district, street=args.street)
    except AccountError as exc:
        print(f"账号未创建:{exc}", file=sys.stderr)
        return 2
    print(f"已创建账号 {o.username}({o.role_label} · {o.area}),保存在 {settings.store_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

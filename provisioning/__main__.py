"""`anpr-provision`: make key material for cameras and the central."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from provisioning.keys import ProvisioningError, make_camera_key, make_central_keys
from wire.fields import CAMERA_ID


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anpr-provision", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    camera = commands.add_parser("camera-key", help="new Ed25519 signing key for a camera")
    camera.add_argument("--camera-id", required=True)
    camera.add_argument("--out", type=Path, required=True, help="folder for .key and .pub")
    central = commands.add_parser("central-keys", help="ack-signing key and session secret")
    central.add_argument("--out", type=Path, required=True, help="credentials folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "camera-key":
            if not CAMERA_ID.fullmatch(args.camera_id):
                raise ProvisioningError(
                    "camera id: lower-case letters, digits and '-', 3 to 64 characters"
                )
            private, public = make_camera_key(args.camera_id, args.out)
            print(f"private key: {private}\npublic key:  {public}")
        else:
            for name, path in make_central_keys(args.out).items():
                print(f"{name}: {path}")
    except ProvisioningError as exc:
        print(f"anpr-provision: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

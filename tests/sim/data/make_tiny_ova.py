"""Rebuild tiny-disk1.vmdk, tiny.mf and tiny.ova from tiny.ovf (run from anywhere).

The disk is opaque test bytes behind a sparse-extent ("KDMV") header: the simulator
stores and serves disk bytes as they are, it never interprets them. The manifest lists
SHA256 digests as ovftool writes them; the OVA is a tar with the descriptor first.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def disk_bytes() -> bytes:
    header = b"KDMV" + struct.pack("<IIQQQQI", 3, 0x30001, 2 * 2**21, 128, 1, 1, 4)
    body = bytes((i * 7 + 3) % 251 for i in range(4096 - len(header)))
    return header + body


def main() -> None:
    ovf = (HERE / "tiny.ovf").read_bytes()
    disk = disk_bytes()
    (HERE / "tiny-disk1.vmdk").write_bytes(disk)
    mf = "".join(
        f"SHA256({name})= {hashlib.sha256(data).hexdigest()}\n"
        for name, data in (("tiny.ovf", ovf), ("tiny-disk1.vmdk", disk))
    ).encode()
    (HERE / "tiny.mf").write_bytes(mf)
    with tarfile.open(HERE / "tiny.ova", "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("tiny.ovf", ovf), ("tiny.mf", mf), ("tiny-disk1.vmdk", disk)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()

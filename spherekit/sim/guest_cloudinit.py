"""cloud-init in the simulated guest: VMware's ``guestinfo`` datasource, read at boot.

A guest reads (from the VM's ``config.extraConfig``, as cloud-init's VMware datasource
reads them through VMware Tools):

- ``guestinfo.metadata`` (``guestinfo.metadata.encoding``) and ``guestinfo.userdata``
  (``guestinfo.userdata.encoding``); the encodings are ``base64`` / ``b64``,
  ``gzip+base64`` / ``gz+b64``, or none (plain text).
- metadata (YAML or JSON): ``instance-id``, ``local-hostname`` / ``hostname`` (the guest's
  host name), and ``network`` (netplan version 2, inline or as a string with
  ``network.encoding``): ``ethernets`` matched to the VM's NICs by ``match.macaddress``,
  else in order, each with ``dhcp4`` or static ``addresses`` (``10.1.2.3/24``),
  ``gateway4`` / ``routes``, ``nameservers.addresses`` / ``.search``.
- user data: ``#cloud-config`` with ``hostname``, ``fqdn`` (the host name is its first
  label), ``write_files`` (``path``, ``content``, ``encoding`` b64 / gzip+b64,
  ``permissions``, ``append``) and ``runcmd`` (strings or argument lists), or a
  ``#!/bin/sh`` script. ``write_files`` and the commands run once per instance (a new
  ``instance-id``, else the VM's instance UUID), as cloud-init's per-instance modules do;
  their output goes to ``/var/log/cloud-init-output.log``. What cannot be decoded or
  parsed is written to ``/var/log/cloud-init.log`` and otherwise ignored, as cloud-init
  does. vCenter itself sees none of this except the host name and addresses the guest's
  tools then report.

YAML is read by a small parser for the block and flow styles cloud-config uses (mappings,
sequences, ``|`` / ``>`` block scalars, quoted and plain scalars with YAML 1.1 booleans);
anchors, tags and multi-document streams are not supported.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CloudInit", "NicConfig", "decode", "parse_yaml", "read_cloud_init"]


@dataclass
class NicConfig:
    """How one NIC is configured: static ``addresses`` or, when empty, DHCP."""

    addresses: list[tuple[str, int]] = field(default_factory=list)
    gateway: str | None = None
    dns: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    mac: str | None = None


@dataclass
class CloudInit:
    """What the guest's cloud-init does at boot."""

    instance_id: str | None = None
    hostname: str | None = None
    domain: str | None = None
    #: None: no network configuration (DHCP everywhere)
    nics: list[NicConfig] | None = None
    #: (path, content, mode, append)
    files: list[tuple[str, bytes, int, bool]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def decode(value: str, encoding: str | None) -> bytes:
    """The bytes of a ``guestinfo`` value in ``encoding``; ValueError if it is not."""
    enc = (encoding or "").strip().lower()
    try:
        if enc in ("", "plain", "text"):
            return value.encode()
        if enc in ("base64", "b64"):
            return base64.b64decode(value, validate=False)
        if enc in ("gzip+base64", "gz+b64", "gz+base64", "gzip+b64"):
            return gzip.decompress(base64.b64decode(value, validate=False))
    except (binascii.Error, OSError, EOFError) as e:
        raise ValueError(f"cannot decode {enc} data: {e}") from e
    raise ValueError(f"unknown encoding {encoding!r}")


# -- YAML (the subset cloud-config uses) ------------------------------------------------------

_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?([0-9]*\.[0-9]+|[0-9]+\.)([eE][-+]?[0-9]+)?")


def _scalar(text: str) -> Any:
    t = text.strip()
    if t.startswith(("[", "{")):
        return _flow(t, 0)[0]
    if t.startswith("'") and t.endswith("'") and len(t) > 1:
        return t[1:-1].replace("''", "'")
    if t.startswith('"') and t.endswith('"') and len(t) > 1:
        return json.loads(t)
    low = t.lower()
    if low in ("", "~", "null"):
        return None
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if _INT.fullmatch(t):
        return int(t)
    if _FLOAT.fullmatch(t):
        return float(t)
    return t


def _flow(t: str, i: int) -> tuple[Any, int]:
    """A flow collection or scalar starting at ``t[i]``; returns (value, next index)."""
    while i < len(t) and t[i] == " ":
        i += 1
    if i < len(t) and t[i] in "[{":
        close = "]" if t[i] == "[" else "}"
        items: list[Any] = []
        mapping: dict[str, Any] = {}
        i += 1
        while True:
            while i < len(t) and t[i] in " ,":
                i += 1
            if i >= len(t):
                raise ValueError("unterminated flow collection")
            if t[i] == close:
                return (items if close == "]" else mapping), i + 1
            value, i = _flow(t, i)
            if close == "}":
                while i < len(t) and t[i] == " ":
                    i += 1
                if i < len(t) and t[i] == ":":
                    mapping[str(value)], i = _flow(t, i + 1)
                else:
                    mapping[str(value)] = None
            else:
                items.append(value)
    if i < len(t) and t[i] in "'\"":
        q = t[i]
        j = i + 1
        while j < len(t) and (t[j] != q or (q == '"' and t[j - 1] == "\\")):
            j += 1
        return _scalar(t[i : j + 1]), j + 1
    j = i
    while j < len(t) and t[j] not in ",]}" and not (t[j] == ":" and t[j + 1 : j + 2] in (" ", "")):
        j += 1
    return _scalar(t[i:j]), j


def _strip_comment(line: str) -> str:
    quote = ""
    for i, c in enumerate(line):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"" and (i == 0 or line[i - 1] in " :-[{,"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _split_key(text: str) -> tuple[str, str] | None:
    """``key: value`` -> (key, value); None if ``text`` is not a mapping entry."""
    if text[:1] in "'\"":
        q = text[0]
        j = text.find(q, 1)
        if j < 0 or text[j + 1 : j + 2] != ":":
            return None
        return text[1:j], text[j + 2 :].strip()
    m = re.match(r"([^:\[\]{},]+?):(\s+|$)(.*)", text)
    if m is None:
        return None
    return m.group(1).strip(), m.group(3).strip()


class _Yaml:
    def __init__(self, text: str) -> None:
        self.raw = text.expandtabs(8).split("\n")
        self.i = 0

    def _next(self) -> tuple[int, str] | None:
        """(indent, content) of the next meaningful line, without consuming it."""
        while self.i < len(self.raw):
            content = _strip_comment(self.raw[self.i])
            if content.strip() and content.strip() not in ("---", "..."):
                return len(content) - len(content.lstrip()), content.strip()
            self.i += 1
        return None

    def block(self, indent: int) -> Any:
        head = self._next()
        if head is None or head[0] < indent:
            return None
        ind, content = head
        if content == "-" or content.startswith("- "):
            return self._sequence(ind)
        return self._mapping(ind)

    def _sequence(self, ind: int) -> list[Any]:
        out: list[Any] = []
        while (head := self._next()) is not None and head[0] == ind and head[1][:2] in ("-", "- "):
            rest = head[1][1:].lstrip()
            if not rest:
                self.i += 1
                out.append(self.block(ind + 1))
                continue
            offset = ind + len(head[1]) - len(rest)
            if _split_key(rest) is not None and not rest.startswith(("[", "{")):
                self.raw[self.i] = " " * offset + rest  # the item is a mapping
                out.append(self._mapping(offset))
            else:
                out.append(self._value(rest, ind))
        return out

    def _mapping(self, ind: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while (head := self._next()) is not None and head[0] == ind:
            entry = _split_key(head[1])
            if entry is None:
                raise ValueError(f"line {self.i + 1}: expected 'key: value'")
            key, rest = entry
            if rest:
                out[key] = self._value(rest, ind)
                continue
            self.i += 1
            nxt = self._next()
            if nxt is not None and nxt[0] == ind and nxt[1][:2] in ("-", "- "):
                out[key] = self._sequence(ind)
            else:
                out[key] = self.block(ind + 1)
        return out

    def _value(self, rest: str, ind: int) -> Any:
        """A scalar after ``key:`` or ``-``; a block scalar reads the lines below."""
        self.i += 1
        if rest[:1] not in "|>":
            return _scalar(rest)
        lines: list[str] = []
        while self.i < len(self.raw):
            line = self.raw[self.i].expandtabs(8)
            if line.strip() and len(line) - len(line.lstrip()) <= ind:
                break
            lines.append(line)
            self.i += 1
        while lines and not lines[-1].strip():
            lines.pop()
        cut = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
        body = [x[cut:] for x in lines]
        text = "\n".join(body) if rest[0] == "|" else " ".join(x.strip() for x in body)
        return text if "-" in rest else text + "\n"


def parse_yaml(text: str) -> Any:
    """Parse YAML (the cloud-config subset) or JSON; ValueError if it is neither."""
    if text.strip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    try:
        return _Yaml(text).block(0)
    except (IndexError, json.JSONDecodeError) as e:
        raise ValueError(str(e)) from e


# -- the datasource ------------------------------------------------------------------------------


def _network(value: Any, ci: CloudInit) -> None:
    net = value.get("network", value) if isinstance(value, dict) else None
    eths = net.get("ethernets") if isinstance(net, dict) else None
    if not isinstance(eths, dict):
        ci.errors.append("network: no netplan version 2 'ethernets' section")
        return
    ci.nics = []
    for conf in eths.values():
        conf = conf if isinstance(conf, dict) else {}
        nic = NicConfig()
        match = conf.get("match")
        if isinstance(match, dict) and match.get("macaddress"):
            nic.mac = str(match["macaddress"]).lower()
        for a in conf.get("addresses") or []:
            ip, _, prefix = str(a).partition("/")
            nic.addresses.append((ip, int(prefix) if prefix.isdigit() else 24))
        nic.gateway = conf.get("gateway4")
        for r in conf.get("routes") or []:
            if isinstance(r, dict) and r.get("to") in ("default", "0.0.0.0/0"):
                nic.gateway = r.get("via")
        ns = conf.get("nameservers")
        if isinstance(ns, dict):
            nic.dns = [str(x) for x in ns.get("addresses") or []]
            nic.search = [str(x) for x in ns.get("search") or []]
        ci.nics.append(nic)


def _write_file(entry: Any, ci: CloudInit) -> None:
    if not isinstance(entry, dict) or not entry.get("path"):
        ci.errors.append(f"write_files: an entry without a path: {entry!r}")
        return
    content = str(entry.get("content") or "")
    try:
        data = decode(content, entry.get("encoding"))
    except ValueError as e:
        ci.errors.append(f"write_files {entry['path']}: {e}")
        return
    perms = str(entry.get("permissions") or "0644")
    mode = int(perms, 8) if re.fullmatch(r"0?o?[0-7]{3,4}", perms) else 0o644
    ci.files.append((str(entry["path"]), data, mode, bool(entry.get("append"))))


def _user_data(text: str, ci: CloudInit) -> None:
    if text.startswith("#!"):
        ci.commands.append(text)
        return
    if not text.startswith("#cloud-config"):
        ci.errors.append("user-data: neither #cloud-config nor a script; ignored")
        return
    doc = parse_yaml(text)
    if not isinstance(doc, dict):
        return
    fqdn = doc.get("fqdn")
    if fqdn:
        ci.hostname, _, domain = str(fqdn).partition(".")
        ci.domain = domain or ci.domain
    if doc.get("hostname"):
        ci.hostname = str(doc["hostname"])
    for entry in doc.get("write_files") or []:
        _write_file(entry, ci)
    for cmd in doc.get("runcmd") or []:
        ci.commands.append(shlex.join(map(str, cmd)) if isinstance(cmd, list) else str(cmd))


def read_cloud_init(extra: dict[str, str]) -> CloudInit | None:
    """What cloud-init makes of the VM's ``guestinfo``; None if there is none."""
    if "guestinfo.metadata" not in extra and "guestinfo.userdata" not in extra:
        return None
    ci = CloudInit()
    if "guestinfo.metadata" in extra:
        try:
            raw = decode(extra["guestinfo.metadata"], extra.get("guestinfo.metadata.encoding"))
            meta = parse_yaml(raw.decode(errors="replace")) or {}
            if not isinstance(meta, dict):
                raise ValueError("metadata is not a mapping")
            if meta.get("instance-id"):
                ci.instance_id = str(meta["instance-id"])
            name = meta.get("local-hostname") or meta.get("hostname")
            if name:
                ci.hostname, _, domain = str(name).partition(".")
                ci.domain = domain or None
            network = meta.get("network")
            if isinstance(network, str):
                enc = meta.get("network.encoding")
                network = parse_yaml(decode(network, enc).decode(errors="replace"))
            if network is not None:
                _network(network, ci)
        except ValueError as e:
            ci.errors.append(f"guestinfo.metadata: {e}")
    if "guestinfo.userdata" in extra:
        try:
            raw = decode(extra["guestinfo.userdata"], extra.get("guestinfo.userdata.encoding"))
            _user_data(raw.decode(errors="replace"), ci)
        except ValueError as e:
            ci.errors.append(f"guestinfo.userdata: {e}")
    return ci

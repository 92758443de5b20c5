"""A small pure-NumPy reader for the HDF5 files Keras writes through h5py with default settings.

It spares a cold start the h5py import (~50 ms, ~10 MB). The subset it reads: superblock v0/v1 with 8-byte
offsets and lengths; version-1 object headers (with continuation blocks); old-style groups (v1 B-tree + SNOD
symbol nodes + local heap); datasets with contiguous or compact layout (hence no filters); little-endian
IEEE floats and integers, fixed-length strings; attributes of those types or variable-length strings (global
heap). Anything else -- a structure outside that subset, or damaged bytes -- raises :class:`Unsupported`, and the
caller falls back to h5py, so unusual files read as before and corrupt files get the same typed errors.

Safety: nothing is executed; every read is bounds-checked, every walk visits each address at most once and
B-tree levels must strictly decrease, so a corrupt file raises instead of hanging. Damaged bytes are refused as
HDF5 itself would refuse them where that is cheap to check (B-tree keys, heap free lists, message counts and
flags...), so that the fallback, not a half-read file, decides the outcome.
"""

from __future__ import annotations

import math
import struct

import numpy as np

SIGNATURE = b"\x89HDF\r\n\x1a\n"
UNDEFINED = 0xFFFFFFFFFFFFFFFF
MAX_OBJECTS = 1_000_000
MAX_DEPTH = 64
# (size, bit offset, precision, exponent location, exponent size, mantissa location, mantissa size, bias)
IEEE = {(2, 0, 16, 10, 5, 0, 10, 15): "<f2", (4, 0, 32, 23, 8, 0, 23, 127): "<f4",
        (8, 0, 64, 52, 11, 0, 52, 1023): "<f8"}
VLEN_STR = object()  # datatype marker: variable-length string


class Unsupported(Exception):
    """Outside the subset this reader handles (or corrupt): use h5py instead."""


class Group(dict):
    """name -> Group | np.ndarray, with ``.attrs``; indexing by ``"a/b"`` paths like an h5py Group."""

    def __init__(self, attrs: dict):
        super().__init__()
        self.attrs = attrs

    def __getitem__(self, path):
        node = self
        for part in (p for p in str(path).split("/") if p):
            if not isinstance(node, Group):
                raise KeyError(path)
            node = dict.__getitem__(node, part)
        return node

    def __contains__(self, path):
        try:
            self[path]
        except KeyError:
            return False
        return True


def read(blob: bytes) -> Group:
    """Parse an HDF5 file image into a Group tree; raise Unsupported for anything outside the subset."""
    try:
        return _Reader(blob).root()
    except (struct.error, ValueError, IndexError, KeyError, TypeError, OverflowError, UnicodeDecodeError) as exc:
        raise Unsupported(f"{type(exc).__name__}: {exc}") from None


def datasets(group: Group, prefix: str = "") -> dict[str, np.ndarray]:
    """Every dataset under group by its path, like h5py's ``visititems`` over datasets."""
    out = {}
    for name, node in dict.items(group):
        path = f"{prefix}{name}"
        if isinstance(node, Group):
            out.update(datasets(node, path + "/"))
        else:
            out[path] = node
    return out


class _Reader:
    def __init__(self, blob: bytes):
        self.buf = bytes(blob)
        self.end = len(self.buf)  # then the superblock's end-of-file address, as HDF5 checks against it
        self.seen: set[int] = set()  # every object header, B-tree node and heap address visited
        self.gheaps: dict[int, dict[int, bytes]] = {}

    def unpack(self, fmt: str, off: int) -> tuple:
        fmt = "<" + fmt
        if off < 0 or off + struct.calcsize(fmt) > self.end:
            raise Unsupported(f"read past the end of the file at {off}")
        return struct.unpack_from(fmt, self.buf, off)

    def bytes(self, off: int, n: int) -> bytes:
        if off < 0 or n < 0 or off + n > self.end:
            raise Unsupported(f"read past the end of the file at {off}")
        return self.buf[off:off + n]

    def visit(self, addr: int) -> None:
        if addr in self.seen or len(self.seen) > MAX_OBJECTS:
            raise Unsupported(f"address {addr} reached twice (shared or cyclic structure)")
        self.seen.add(addr)

    # -- superblock and object headers ---------------------------------------------------------------------------
    def root(self) -> Group:
        if self.buf[:8] != SIGNATURE:
            raise Unsupported("no HDF5 signature at offset 0 (user block?)")
        version, size_offsets, size_lengths = self.buf[8], self.buf[13], self.buf[14]
        sub_versions = (self.buf[9], self.buf[10], self.buf[12])  # free space, root entry, shared headers
        self.leaf_k, self.node_k, flags = self.unpack("HHI", 16)
        if (version not in (0, 1) or (size_offsets, size_lengths) != (8, 8) or sub_versions != (0, 0, 0) or flags
                or not self.leaf_k or not self.node_k):
            raise Unsupported(f"superblock v{version}, {size_offsets}/{size_lengths}-byte offsets/lengths, "
                              f"versions {sub_versions}, status flags {flags}")
        off = 24 + 4 * version
        base, free_space, eof, driver = self.unpack("4Q", off)
        if base != 0 or eof > len(self.buf) or (free_space, driver) != (UNDEFINED, UNDEFINED):
            raise Unsupported(f"base address {base}, end of file {eof} > {len(self.buf)} bytes (truncated?), "
                              "free-space or driver information")
        self.end = eof
        node = self.object(*self.entry(off + 32), 0)
        if not isinstance(node, Group):
            raise Unsupported("root object is not a group")
        return node

    def entry(self, off: int) -> tuple[int, tuple | None]:
        """A symbol table entry -> (object header address, cached (B-tree, heap) of a group or None)."""
        _name, header, cache = self.unpack("QQI", off)
        if cache not in (0, 1):
            raise Unsupported(f"symbol table entry cache type {cache}")
        return header, self.unpack("QQ", off + 24) if cache else None

    def messages(self, addr: int) -> list[tuple[int, int, int]]:
        """(type, data offset, size) of each message of the v1 object header at addr."""
        version, _, count, _refs, size = self.unpack("BBHII", addr)
        if version != 1:
            raise Unsupported(f"object header v{version} at {addr}")
        blocks, out, continued = [(addr + 16, size)], [], 0
        while blocks:
            pos, length = blocks.pop(0)
            end = pos + length
            self.bytes(pos, length)
            while pos + 8 <= end:
                mtype, msize, flags = self.unpack("HHB", pos)
                if pos + 8 + msize > end or msize % 8 or len(out) > 0xFFFF:
                    raise Unsupported(f"object header message overruns its block at {pos}")
                if flags & ~0x01:  # only "constant": no shared messages, no unknown-message handling
                    raise Unsupported(f"header message {mtype:#x} with flags {flags:#x}")
                if mtype == 0x10:  # continuation: more messages elsewhere
                    cont, clen = self.unpack("QQ", pos + 8)
                    self.visit(cont)
                    blocks.append((cont, clen))
                    continued += 1
                else:
                    out.append((mtype, pos + 8, msize))
                pos += 8 + msize
        if len(out) + continued != count:
            raise Unsupported(f"object header at {addr} holds a different number of messages than it says")
        return out

    def object(self, addr: int, cached: tuple | None, depth: int):
        self.visit(addr)
        if depth > MAX_DEPTH:
            raise Unsupported("groups nested too deeply")
        attrs, table, space, dtype, layout = {}, None, None, None, None
        messages = self.messages(addr)
        kinds = [mtype for mtype, _, _ in messages if mtype not in (0x00, 0x0C)]  # NIL padding, attributes
        if len(kinds) != len(set(kinds)):
            raise Unsupported(f"repeated header messages at {addr}")
        for mtype, off, size in messages:
            if mtype == 0x00:
                continue
            if mtype == 0x05:  # fill value: only matters for unwritten storage, which dataset() refuses
                self.fill_value(off, size)
            elif mtype == 0x01:
                space = self.dataspace(off)
            elif mtype == 0x03:
                dtype = self.datatype(off)
            elif mtype == 0x08:
                layout = (off, size)
            elif mtype == 0x11:
                table = self.unpack("QQ", off)
            elif mtype == 0x0C:
                name, value = self.attribute(off, size)
                if name in attrs:
                    raise Unsupported(f"repeated attribute {name!r}")
                attrs[name] = value
            else:
                raise Unsupported(f"object header message type {mtype:#x}")
        if cached is not None and cached != table:
            raise Unsupported(f"cached group info at {addr} disagrees with its header")
        if table is not None and layout is None:
            group = Group(attrs)
            for name, child in self.links(*table):
                if name in group:
                    raise Unsupported(f"duplicate link name {name!r}")
                dict.__setitem__(group, name, self.object(*child, depth + 1))
            return group
        if table is not None or space is None or dtype is None or layout is None or dtype is VLEN_STR:
            raise Unsupported(f"object at {addr} is neither a plain group nor a plain dataset")
        return self.dataset(*layout, space, dtype)

    # -- groups: v1 B-tree of symbol table nodes, names in a local heap --------------------------------------------
    def links(self, btree: int, heap: int) -> list[tuple[str, tuple]]:
        sig, version, _, size, free_head, data = self.unpack("4sB3sQQQ", heap)
        if sig != b"HEAP" or version != 0:
            raise Unsupported(f"no local heap at {heap}")
        names = self.bytes(data, size)
        free, blocks = free_head, 0  # the free list, checked as HDF5 checks it (1 ends it)
        while free != 1:
            if free + 16 > size or blocks > size // 16:
                raise Unsupported("bad local heap free list")
            free_next, free_size = struct.unpack_from("<QQ", names, free)
            if free_next == 0 or free + free_size > size:
                raise Unsupported("bad local heap free list")
            free, blocks = free_next, blocks + 1
        out, stack = [], [(btree, None, None, None)]  # node, its level, bounds of its names (exclusive, inclusive)
        while stack:
            addr, expected_level, low, high = stack.pop()
            self.visit(addr)
            sig, kind, level, used, left, right = self.unpack("4sBBHQQ", addr)
            node_size = 24 + 8 * (4 * self.node_k + 1)  # HDF5 reads whole nodes
            self.bytes(addr, node_size)
            keys = [self.name(names, self.unpack("Q", addr + 24 + 16 * i)[0]) for i in range(used + 1)]
            children = [self.unpack("Q", addr + 32 + 16 * i)[0] for i in range(used)]  # key, child, key, ...
            if (sig != b"TREE" or kind != 0 or (expected_level is not None and level != expected_level)
                    or used > 2 * self.node_k or (level and not used) or keys != sorted(keys)
                    or (low is not None and keys[0] < low) or (high is not None and keys[-1] > high)
                    or any(a != UNDEFINED and a + node_size > self.end for a in (left, right))):
                raise Unsupported(f"bad group B-tree node at {addr}")
            bounds = list(zip(children, keys, keys[1:]))  # names in child i are in (key i, key i+1]
            if level:
                stack.extend((child, level - 1, lo, hi) for child, lo, hi in reversed(bounds))
                continue
            for snod, lo, hi in bounds:
                self.visit(snod)
                sig, version, _, count = self.unpack("4sBBH", snod)
                self.bytes(snod, 8 + 80 * self.leaf_k)
                if sig != b"SNOD" or version != 1 or count > 2 * self.leaf_k:
                    raise Unsupported(f"bad symbol table node at {snod}")
                for i in range(count):
                    (name_off,), child = self.unpack("Q", snod + 8 + 40 * i), self.entry(snod + 8 + 40 * i)
                    name = self.name(names, name_off)
                    if not lo < name <= hi or b"/" in name or name == b".":
                        raise Unsupported(f"link name {name!r} out of order or odd")
                    lo = name
                    out.append((name.decode("utf8"), child))
        return out

    @staticmethod
    def name(names: bytes, off: int) -> bytes:
        end = names.find(b"\0", off)
        if end < off:
            raise Unsupported("bad name offset into a local heap")
        return names[off:end]

    # -- datasets and attributes -------------------------------------------------------------------------------------
    def dataspace(self, off: int) -> tuple[int, ...]:
        version, rank, _flags, kind = self.unpack("BBBB", off)
        if version == 1:
            start = off + 8
        elif version == 2 and kind in (0, 1):
            start = off + 4
        else:
            raise Unsupported(f"dataspace v{version} kind {kind} (null dataspace?)")
        if rank > 32:
            raise Unsupported(f"dataspace of rank {rank}")
        return self.unpack(f"{rank}Q", start)

    def datatype(self, off: int):
        class_version, bits0, bits1, _bits2, size = self.unpack("BBBBI", off)
        cls = class_version & 0x0F
        if class_version >> 4 not in (1, 2, 3):
            raise Unsupported(f"datatype message v{class_version >> 4}")
        if cls == 0:  # fixed-point: little-endian, no padding, full precision
            offset, precision = self.unpack("HH", off + 8)
            if bits0 & 0x07 or (offset, precision) != (0, 8 * size) or size not in (1, 2, 4, 8):
                raise Unsupported("integer type outside the subset")
            return np.dtype(f"<{'i' if bits0 & 0x08 else 'u'}{size}")
        if cls == 1:  # floating point: IEEE little-endian only
            key = (size, *self.unpack("HHBBBBI", off + 8))
            if bits0 != 0x20 or bits1 != 8 * size - 1 or key not in IEEE:
                raise Unsupported("float type outside the subset")
            return np.dtype(IEEE[key])
        if cls == 3 and bits0 & 0x0F in (0, 1) and size > 0:  # fixed string, null-terminated or null-padded
            return np.dtype(f"S{size}")
        if cls == 9 and bits0 & 0x0F == 1 and size == 16:  # variable-length string (global heap references)
            if self.buf[off + 8] & 0x0F not in (0, 3) or self.datatype(off + 8).itemsize != 1:  # 1-byte characters
                raise Unsupported("variable-length string of an unusual base type")
            return VLEN_STR
        raise Unsupported(f"datatype class {cls}")

    def attribute(self, off: int, size: int) -> tuple[str, object]:
        version, _, name_len, type_len, space_len = self.unpack("BBHHH", off)
        if version not in (1, 2, 3):
            raise Unsupported(f"attribute message v{version}")
        pad = (lambda n: (n + 7) & ~7) if version == 1 else (lambda n: n)
        pos = off + 8 + (version == 3)
        if not name_len:
            raise Unsupported("attribute without a name")
        name = self.bytes(pos, name_len - 1).split(b"\0")[0].decode("utf8")  # as HDF5: strndup(name, len - 1)
        pos += pad(name_len)
        dtype = self.datatype(pos)
        pos += pad(type_len)
        shape = self.dataspace(pos)
        pos += pad(space_len)
        count = math.prod(shape)
        if dtype is VLEN_STR:
            if pos + 16 * count > off + size:
                raise Unsupported("attribute data overruns its message")
            strings = [self.vlen_str(*self.unpack("IQI", pos + 16 * i)) for i in range(count)]
            value = np.array(strings, dtype=object).reshape(shape)
        else:
            value = self.array(pos, count, dtype, shape, limit=off + size - pos)
        return name, value[()] if shape == () else value

    def fill_value(self, off: int, size: int) -> None:
        version, alloc, write, defined = self.unpack("BBBB", off)
        (length,) = self.unpack("I", off + 4) if defined else (0,)
        if version != 2 or alloc not in (1, 2, 3) or write > 2 or defined > 1 or 8 + length > size:
            raise Unsupported("fill value message outside the subset")

    def vlen_str(self, length: int, collection: int, index: int) -> str:
        if length == 0:
            return ""
        if collection not in self.gheaps:
            self.visit(collection)
            sig, version, _, size = self.unpack("4sB3sQ", collection)
            if sig != b"GCOL" or version != 1:
                raise Unsupported(f"no global heap at {collection}")
            self.bytes(collection, size)
            objects, pos, end = {}, collection + 16, collection + size
            while pos + 16 <= end:
                idx, _refs, _, osize = self.unpack("HH4sQ", pos)
                if idx == 0:  # free space, to the end of the collection
                    if pos + osize != end:
                        raise Unsupported(f"bad free space in global heap {collection}")
                    break
                if pos + 16 + osize > end or idx in objects:
                    raise Unsupported(f"bad object {idx} in global heap {collection}")
                objects[idx] = self.bytes(pos + 16, osize)
                pos += 16 + ((osize + 7) & ~7)
            self.gheaps[collection] = objects
        data = self.gheaps[collection].get(index)
        if data is None or len(data) < length:
            raise Unsupported(f"missing global heap object {index} in {collection}")
        return data[:length].decode("utf8")

    def dataset(self, off: int, size: int, shape: tuple, dtype: np.dtype) -> np.ndarray:
        version, cls = self.unpack("BB", off)
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if version != 3:
            raise Unsupported(f"data layout message v{version}")
        if cls == 0:  # compact: the data sits in the message
            (stored,), start = self.unpack("H", off + 2), off + 4
            if stored > size - 4:
                raise Unsupported("compact data overruns its message")
        elif cls == 1:  # contiguous
            start, stored = self.unpack("QQ", off + 2)
            if start == UNDEFINED and nbytes == 0:
                return np.empty(shape, dtype)
        else:
            raise Unsupported(f"data layout class {cls} (chunked or virtual)")
        if stored != nbytes:
            raise Unsupported(f"dataset holds {stored} bytes, its shape and type need {nbytes}")
        return self.array(start, count, dtype, shape, limit=nbytes)

    def array(self, off: int, count: int, dtype: np.dtype, shape: tuple, limit: int) -> np.ndarray:
        if count < 0 or count * dtype.itemsize > limit:
            raise Unsupported("data overruns its storage")
        data = self.bytes(off, count * dtype.itemsize)
        return np.frombuffer(data, dtype, count).reshape(shape).copy()

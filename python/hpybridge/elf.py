"""Reads the names an ELF shared object exports, without loading it.

The loader uses this to say *why* a file is not the HPy extension it was asked for (not ELF at all,
no HPy module, a module of another name) before handing it to dlopen, whose errors say neither.
"""

import struct

ELF_MAGIC = b"\x7fELF"
_SHT_DYNSYM = 11


class NotELFError(ValueError):
    pass


def exported_symbols(path):
    """Defined, global or weak, symbols of the file's dynamic symbol table."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != ELF_MAGIC:
        raise NotELFError("not an ELF file (it starts with %r, ELF files with %r)" % (data[:4], ELF_MAGIC))
    if len(data) < 64:
        raise NotELFError("truncated ELF header (%d bytes)" % len(data))
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    try:
        if is64:
            shoff, = struct.unpack_from(endian + "Q", data, 0x28)
            shentsize, shnum = struct.unpack_from(endian + "HH", data, 0x3A)
        else:
            shoff, = struct.unpack_from(endian + "I", data, 0x20)
            shentsize, shnum = struct.unpack_from(endian + "HH", data, 0x2E)
        sections = [_section(data, endian, is64, shoff + i * shentsize) for i in range(shnum)]
        names = set()
        for sh_type, offset, size, link, entsize in sections:
            if sh_type != _SHT_DYNSYM or not entsize:
                continue
            str_offset = sections[link][1]
            for sym in range(offset, offset + size, entsize):
                name_off, info, shndx = _symbol(data, endian, is64, sym)
                binding = info >> 4
                if shndx != 0 and binding in (1, 2) and name_off:  # defined; GLOBAL or WEAK
                    end = data.index(b"\0", str_offset + name_off)
                    names.add(data[str_offset + name_off:end].decode("ascii", "replace"))
        return names
    except (struct.error, IndexError, ValueError) as e:
        raise NotELFError("malformed ELF file (%s)" % e) from None


def _section(data, endian, is64, at):
    if is64:
        _, sh_type, _, _, offset, size, link, _, _, entsize = struct.unpack_from(endian + "IIQQQQIIQQ", data, at)
    else:
        _, sh_type, _, _, offset, size, link, _, _, entsize = struct.unpack_from(endian + "IIIIIIIIII", data, at)
    return sh_type, offset, size, link, entsize


def _symbol(data, endian, is64, at):
    if is64:
        name, info, _, shndx = struct.unpack_from(endian + "IBBH", data, at)
    else:
        name, _, _, info, _, shndx = struct.unpack_from(endian + "IIIBBH", data, at)
    return name, info, shndx

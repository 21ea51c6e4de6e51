# SPDX-License-Identifier: MIT
# Writes the seed corpora tests/fuzz/corpus/{png,jpeg,cifar,csv} for the data readers: a few valid small files and
# hand-made corrupt ones. Standard library only (PNG is written here with zlib; the three valid JPEGs were made
# by libjpeg-turbo 2.1.5 through encode_jpeg / jpeg_simple_progression from tests/data/image_writer.hpp, on
# pattern_pixels images, and are stored below as base64). Run: python3 tests/fuzz/make_data_corpus.py
import base64
import os
import struct
import zlib

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def folder(name):
    path = os.path.join(HERE, name)
    os.makedirs(path, exist_ok=True)
    return path


def put(path, name, content):
    with open(os.path.join(path, name), "wb") as f:
        f.write(content)


def pattern(n, seed):  # tests/data/image_writer.hpp's pattern_pixels
    return bytes((31 * i + 7 * seed) % 256 for i in range(n))


# --- PNG -----------------------------------------------------------------------------------------------------------
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, colour_type, bit_depth, rows, extra=b""):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    raw = b"".join(b"\0" + r for r in rows)  # filter type 0 on every row
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


P = folder("png")
w, h = 6, 4
rgb = png(w, h, 2, 8, [pattern(w * 3, y) for y in range(h)])
put(P, "valid_rgb.png", rgb)
put(P, "valid_grey.png", png(w, h, 0, 8, [pattern(w, y) for y in range(h)]))
put(P, "valid_rgba.png", png(w, h, 6, 8, [pattern(w * 4, y) for y in range(h)]))
put(P, "valid_grey_alpha.png", png(w, h, 4, 8, [pattern(w * 2, y) for y in range(h)]))
put(P, "valid_rgb16.png", png(w, h, 2, 16, [pattern(w * 6, y) for y in range(h)]))
put(P, "valid_grey1bit.png", png(9, 3, 0, 1, [pattern(2, y) for y in range(3)]))
plte = chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255])) + chunk(b"tRNS", bytes([128]))
put(P, "valid_palette.png", png(w, h, 3, 8, [bytes((x + y) % 3 for x in range(w)) for y in range(h)], plte))
put(P, "truncated_idat.png", rgb[: len(rgb) // 2 + 10])
put(P, "signature_only.png", rgb[:8])
put(P, "bad_ihdr_crc.png", rgb[:29] + b"\0\0\0\0" + rgb[33:])
put(P, "zero_width.png", png(0, 4, 2, 8, []))
put(P, "huge_size.png", png(1 << 16, 1 << 16, 2, 8, [b"\0\0\0"]))
put(P, "palette_missing.png", png(w, h, 3, 8, [bytes(w) for _ in range(h)]))
ihdr_grey = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
bad_rows = b"".join(b"\x07" + pattern(w, y) for y in range(h))  # filter type 7 does not exist
put(P, "bad_filter.png", b"\x89PNG\r\n\x1a\n" + ihdr_grey + chunk(b"IDAT", zlib.compress(bad_rows)) + chunk(b"IEND", b""))
put(P, "not_png.png", b"hello, this is not an image\n")
put(P, "empty.png", b"")

# --- JPEG ----------------------------------------------------------------------------------------------------------
J = folder("jpeg")
grey = base64.b64decode("/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAAIAAgBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/AE0cf2B8RdW04CCONbsyxRwDCJHJiRFAwMYV1GBwMccV/9k=")
colour = base64.b64decode("/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAQABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwCX7UkZLASaBp1zGIHUxsn9mobkFUKJ5S7rDUQP9HQn9zPH5jYzUJZLi2miuEOmKDKJxaoJWs4xcAXUQMakSNYXwS4VVcRJBNISTmmmJItUuLV4V1g3KusTqu03khtx5kQMYG0ahY7W2K2WnhdmOVqGaC6FhbXZgbWr0MgjN1F5iawqwFICE+fcl7ZJJA0SYQT26ByWDURpUU7LZ7dLc2q81dpp7zdlayYPDzjaMJK/2X35dY9NWk2m/hSa3asf/9k=")
progressive = base64.b64decode("/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wgARCAAKAAwDASIAAhEBAxEB/8QAFwAAAwEAAAAAAAAAAAAAAAAAAQMEBf/EABQBAQAAAAAAAAAAAAAAAAAAAAL/2gAMAwEAAhADEAAAAV0jPD//xAAbEAACAQUAAAAAAAAAAAAAAAABAgMAEyEjMf/aAAgBAQABBQIdsq1QDfJk/wD/xAAZEQABBQAAAAAAAAAAAAAAAAACABESEzH/2gAIAQMBAT8BELyhjL//xAAZEQACAwEAAAAAAAAAAAAAAAABIQACERL/2gAIAQIBAT8BszwFk//EACQQAAECBQIHAAAAAAAAAAAAAAEAIQIDERKxIjFBUWJxgaHw/9oACAEBAAY/AqluQ2p967rWJZPVLiONlCOF8A8WVyndhhf/xAAfEAEAAQMEAwAAAAAAAAAAAAABEQAhMUFRYXGRobH/2gAIAQEAAT8hlAZFj0fkb7tVUAYRa2nBg4b6uaJYDZ/A6y7pJt6aXkL7Wv/aAAwDAQACAAMAAAAQr//EABoRAQEAAgMAAAAAAAAAAAAAAAERACEx8PH/2gAIAQMBAT8QZQwGavDO+uf/xAAaEQEAAgMBAAAAAAAAAAAAAAABETEhUYHh/9oACAECAQE/EJKiNGFwN9ryP//EABsQAQEAAgMBAAAAAAAAAAAAAAERADEhQVFh/9oACAEBAAE/ELjR0gg2FpJqqH6AHUBQ7AR30sx3PG3hjKeP9GdVd84jyqlqqDntQ+qvef/Z")
put(J, "valid_grey8x8.jpg", grey)
put(J, "valid_rgb16x16.jpg", colour)
put(J, "valid_progressive12x10.jpg", progressive)
put(J, "truncated_scan.jpg", colour[: len(colour) * 2 // 3])
put(J, "truncated_progressive.jpg", progressive[: len(progressive) // 2])
put(J, "soi_only.jpg", b"\xff\xd8\xff")
put(J, "header_only.jpg", colour[:200])
put(J, "corrupt_entropy.jpg", colour[:-60] + bytes(58) + b"\xff\xd9")
sof = colour.find(b"\xff\xc0")
put(J, "zero_height.jpg", colour[: sof + 5] + b"\0\0" + colour[sof + 7:])
put(J, "not_jpeg.jpg", b"I am text, named .jpg\n")
put(J, "empty.jpg", b"")


# --- CIFAR ---------------------------------------------------------------------------------------------------------
def record(labels, salt):
    return bytes(labels) + bytes((p * 13 + salt) % 256 for p in range(3072))


C = folder("cifar")
put(C, "valid_cifar10_two.bin", record([3], 0) + record([9], 1))
put(C, "valid_cifar100_one.bin", record([19, 99], 2))
put(C, "short_by_one.bin", (record([1], 0) + record([2], 0))[:-1])
put(C, "label_out_of_range.bin", record([10], 0))
put(C, "fine_label_out_of_range.bin", record([0, 100], 0) + record([0, 100], 0))
put(C, "empty.bin", b"")
put(C, "one_byte.bin", b"\x01")

# --- CSV -----------------------------------------------------------------------------------------------------------
S = folder("csv")
put(S, "valid_header.csv", b"x,y,z,label\n1.5,-2,3e2,1\n0.25,4,5,0\n")
put(S, "valid_crlf_blank.csv", b"1,2,3\r\n\r\n4,5,6\r\n")
put(S, "valid_semicolon_label_first.csv", b"a;b;c\n2; 0.5 ;0.75\n0;1;2\n")
put(S, "wrong_field_count.csv", b"1,2,0\n3,4,5,1\n")
put(S, "not_a_number.csv", b"1,abc,0\n")
put(S, "label_not_integer.csv", b"1,2,1.5\n")
put(S, "label_negative.csv", b"1,2,-1\n")
put(S, "float_overflow.csv", b"1,1e40,0\n")
put(S, "nan_feature.csv", b"nan,1,0\n")
put(S, "quoted.csv", b'"1",2,0\n')
put(S, "header_only.csv", b"a,b,c\n")
put(S, "one_field.csv", b"5\n6\n")
put(S, "empty.csv", b"")
print("wrote", *(f"{len(os.listdir(p))} {os.path.basename(p)}" for p in (P, J, C, S)))

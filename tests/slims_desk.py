"""A SLiMS 9 database for tests: the installer's tables the connector reads, and a desk that
changes them exactly as SLiMS's circulation and fines screens do.

The DDL below follows install/senayan.sql of SLiMS 9 "Bulian" (slims/slims9_bulian,
commit 024b1fe), tables ``biblio``, ``item``, ``loan``, ``member`` and ``fines``:
same columns, types, defaults, keys, ENGINE=MyISAM and utf8 / utf8_unicode_ci.
The desk's statements follow admin/modules/circulation as /work/shared/integrations.md
describes it: a renewal does not touch ``last_update``; fines have no timestamp.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pymysql
from services import unavailable

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
JAKARTA = ZoneInfo("Asia/Jakarta")

_TABLE_OPTIONS = "ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci"

DDL = [
    f"""CREATE TABLE IF NOT EXISTS `biblio` (
  `biblio_id` int(11) NOT NULL AUTO_INCREMENT,
  `gmd_id` int(3) DEFAULT NULL,
  `title` text COLLATE utf8_unicode_ci NOT NULL,
  `sor` varchar(200) COLLATE utf8_unicode_ci DEFAULT NULL,
  `edition` varchar(50) COLLATE utf8_unicode_ci DEFAULT NULL,
  `isbn_issn` varchar(32) COLLATE utf8_unicode_ci DEFAULT NULL,
  `publisher_id` int(11) DEFAULT NULL,
  `publish_year` varchar(20) DEFAULT NULL,
  `collation` varchar(50) COLLATE utf8_unicode_ci DEFAULT NULL,
  `series_title` varchar(200) COLLATE utf8_unicode_ci DEFAULT NULL,
  `call_number` varchar(50) COLLATE utf8_unicode_ci DEFAULT NULL,
  `language_id` char(5) COLLATE utf8_unicode_ci DEFAULT 'en',
  `source` varchar(3) COLLATE utf8_unicode_ci DEFAULT NULL,
  `publish_place_id` int(11) DEFAULT NULL,
  `classification` varchar(40) COLLATE utf8_unicode_ci DEFAULT NULL,
  `notes` text COLLATE utf8_unicode_ci,
  `image` varchar(100) COLLATE utf8_unicode_ci DEFAULT NULL,
  `file_att` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `opac_hide` smallint(1) DEFAULT 0,
  `promoted` smallint(1) DEFAULT 0,
  `labels` text COLLATE utf8_unicode_ci NULL,
  `frequency_id` int(11) NOT NULL DEFAULT 0,
  `spec_detail_info` text COLLATE utf8_unicode_ci,
  `content_type_id` int(11) DEFAULT NULL,
  `media_type_id` int(11) DEFAULT NULL,
  `carrier_type_id` int(11) DEFAULT NULL,
  `input_date` datetime DEFAULT NULL,
  `last_update` datetime DEFAULT NULL,
  `uid` int(11) DEFAULT NULL,
  PRIMARY KEY (`biblio_id`),
  KEY `references_idx` (`gmd_id`, `publisher_id`, `language_id`, `publish_place_id`),
  KEY `classification` (`classification`),
  KEY `biblio_flag_idx` (`opac_hide`, `promoted`),
  KEY `rda_idx` (`content_type_id`, `media_type_id`, `carrier_type_id`),
  KEY `uid` (`uid`),
  FULLTEXT KEY `title_ft_idx` (`title`, `series_title`),
  FULLTEXT KEY `notes_ft_idx` (`notes`),
  FULLTEXT KEY `labels` (`labels`)
) {_TABLE_OPTIONS} AUTO_INCREMENT=1""",
    f"""CREATE TABLE IF NOT EXISTS `item` (
  `item_id` int(11) NOT NULL AUTO_INCREMENT,
  `biblio_id` int(11) DEFAULT NULL,
  `call_number` varchar(50) COLLATE utf8_unicode_ci DEFAULT NULL,
  `coll_type_id` int(3) DEFAULT NULL,
  `item_code` varchar(20) COLLATE utf8_unicode_ci DEFAULT NULL,
  `inventory_code` varchar(200) COLLATE utf8_unicode_ci DEFAULT NULL,
  `received_date` date DEFAULT NULL,
  `supplier_id` varchar(6) COLLATE utf8_unicode_ci DEFAULT NULL,
  `order_no` varchar(20) COLLATE utf8_unicode_ci DEFAULT NULL,
  `location_id` varchar(3) COLLATE utf8_unicode_ci DEFAULT NULL,
  `order_date` date DEFAULT NULL,
  `item_status_id` char(3) COLLATE utf8_unicode_ci DEFAULT NULL,
  `site` varchar(50) COLLATE utf8_unicode_ci DEFAULT NULL,
  `source` int(1) NOT NULL DEFAULT '0',
  `invoice` varchar(20) COLLATE utf8_unicode_ci DEFAULT NULL,
  `price` int(11) DEFAULT NULL,
  `price_currency` varchar(10) COLLATE utf8_unicode_ci DEFAULT NULL,
  `invoice_date` date DEFAULT NULL,
  `input_date` datetime NOT NULL,
  `last_update` datetime DEFAULT NULL,
  `uid` int(11) DEFAULT NULL,
  PRIMARY KEY (`item_id`),
  UNIQUE KEY `item_code` (`item_code`),
  KEY `uid` (`uid`),
  KEY `item_references_idx` (`coll_type_id`, `location_id`, `item_status_id`),
  KEY `biblio_id_idx` (`biblio_id`)
) {_TABLE_OPTIONS} AUTO_INCREMENT=1""",
    f"""CREATE TABLE IF NOT EXISTS `loan` (
  `loan_id` int(11) NOT NULL AUTO_INCREMENT,
  `item_code` varchar(20) COLLATE utf8_unicode_ci DEFAULT NULL,
  `member_id` varchar(20) COLLATE utf8_unicode_ci DEFAULT NULL,
  `loan_date` date NOT NULL,
  `due_date` date NOT NULL,
  `renewed` int(11) NOT NULL DEFAULT '0',
  `loan_rules_id` int(11) NOT NULL DEFAULT '0',
  `actual` date DEFAULT NULL,
  `is_lent` int(11) NOT NULL DEFAULT '0',
  `is_return` int(11) NOT NULL DEFAULT '0',
  `return_date` date DEFAULT NULL,
  `input_date` datetime DEFAULT NULL,
  `last_update` datetime DEFAULT NULL,
  `uid` int(11) DEFAULT NULL,
  PRIMARY KEY (`loan_id`),
  KEY `item_code` (`item_code`),
  KEY `member_id` (`member_id`),
  KEY `input_date` (`input_date`, `last_update`, `uid`)
) {_TABLE_OPTIONS} AUTO_INCREMENT=1""",
    f"""CREATE TABLE IF NOT EXISTS `member` (
  `member_id` varchar(20) COLLATE utf8_unicode_ci NOT NULL,
  `member_name` varchar(100) COLLATE utf8_unicode_ci NOT NULL,
  `gender` int(1) NOT NULL,
  `birth_date` date DEFAULT NULL,
  `member_type_id` int(6) DEFAULT NULL,
  `member_address` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `member_mail_address` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `member_email` varchar(100) COLLATE utf8_unicode_ci DEFAULT NULL,
  `postal_code` varchar(20) COLLATE utf8_unicode_ci DEFAULT NULL,
  `inst_name` varchar(100) COLLATE utf8_unicode_ci DEFAULT NULL,
  `is_new` int(1) DEFAULT NULL,
  `member_image` varchar(200) COLLATE utf8_unicode_ci DEFAULT NULL,
  `pin` varchar(50) COLLATE utf8_unicode_ci DEFAULT NULL,
  `member_phone` varchar(50) COLLATE utf8_unicode_ci DEFAULT NULL,
  `member_fax` varchar(50) COLLATE utf8_unicode_ci DEFAULT NULL,
  `member_since_date` date DEFAULT NULL,
  `register_date` date DEFAULT NULL,
  `expire_date` date NOT NULL,
  `member_notes` text COLLATE utf8_unicode_ci,
  `is_pending` smallint(1) NOT NULL DEFAULT '0',
  `mpasswd` varchar(64) NULL,
  `last_login` datetime NULL,
  `last_login_ip` varchar(20) NULL,
  `input_date` date DEFAULT NULL,
  `last_update` date DEFAULT NULL,
  PRIMARY KEY (`member_id`),
  KEY `member_name` (`member_name`),
  KEY `member_type_id` (`member_type_id`)
) {_TABLE_OPTIONS}""",
    f"""CREATE TABLE IF NOT EXISTS `fines` (
  `fines_id` int(11) NOT NULL AUTO_INCREMENT,
  `fines_date` date NOT NULL,
  `member_id` varchar(20) COLLATE utf8_unicode_ci NOT NULL,
  `debet` int(11) DEFAULT '0',
  `credit` int(11) DEFAULT '0',
  `description` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  PRIMARY KEY (`fines_id`),
  KEY `member_id` (`member_id`)
) {_TABLE_OPTIONS} AUTO_INCREMENT=1""",
]


def _connect(database: str | None = None) -> pymysql.connections.Connection:
    return pymysql.connect(**MARIADB, database=database, charset="utf8mb4", autocommit=True)


@contextmanager
def fresh_slims_database() -> Iterator[str]:
    """An empty SLiMS database (the five tables) for one test; yields its mysql+pymysql URL."""
    try:
        admin = _connect()
    except pymysql.err.OperationalError as exc:
        unavailable(
            f"MariaDB at 127.0.0.1:3306 ({exc}); start it with "
            "`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`"
        )
        raise
    name = f"slims_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8 COLLATE utf8_unicode_ci")
    try:
        with _connect(name) as conn, conn.cursor() as cursor:
            for statement in DDL:
                cursor.execute(statement)
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def now() -> datetime:
    """What PHP's date('Y-m-d H:i:s') writes at a desk in Jakarta."""
    return datetime.now(JAKARTA).replace(tzinfo=None, microsecond=0)


class Desk:
    """The library desk, changing the tables as SLiMS's screens do."""

    def __init__(self, url: str) -> None:
        self.conn = _connect(url.rsplit("/", 1)[1])

    def close(self) -> None:
        self.conn.close()

    def _run(self, sql: str, *args: object) -> int:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.lastrowid

    # -- catalogue and membership --------------------------------------------

    def title(self, title: str, item_code: str) -> None:
        """A bibliographic record with one copy."""
        biblio_id = self._run("INSERT INTO biblio (title, input_date, last_update) VALUES (%s, %s, %s)",
                              title, now(), now())  # fmt: skip
        self._run("INSERT INTO item (biblio_id, item_code, input_date, last_update) VALUES (%s, %s, %s, %s)",
                  biblio_id, item_code, now(), now())  # fmt: skip

    def member(self, member_id: str, name: str = "Siti Rahmawati", **columns: object) -> None:
        values = {"member_id": member_id, "member_name": name, "gender": 0, "expire_date": date(2027, 8, 31),
                  "member_type_id": 1, "inst_name": "Universitas Nusantara", "input_date": date(2022, 8, 1),
                  "last_update": date(2022, 8, 1), **columns}  # fmt: skip
        names = ", ".join(f"`{k}`" for k in values)
        self._run(f"INSERT INTO member ({names}) VALUES ({', '.join(['%s'] * len(values))})", *values.values())

    # -- circulation ------------------------------------------------------------

    def checkout(self, member_id: str, item_code: str, loan_date: date, due_date: date) -> int:
        return self._run(
            "INSERT INTO loan (item_code, member_id, loan_date, due_date, renewed, loan_rules_id, is_lent,"
            " is_return, input_date, last_update) VALUES (%s, %s, %s, %s, 0, 0, 1, 0, %s, %s)",
            item_code, member_id, loan_date, due_date, now(), now(),
        )  # fmt: skip

    def give_back(self, loan_id: int, return_date: date) -> None:
        self._run("UPDATE loan SET is_return=1, return_date=%s, last_update=%s WHERE loan_id=%s",
                  return_date, now(), loan_id)  # fmt: skip

    def renew(self, loan_id: int, due_date: date) -> None:
        """SLiMS's renewal: the count and the due date change, ``last_update`` does not."""
        self._run("UPDATE loan SET renewed=renewed+1, due_date=%s, is_return=0 WHERE loan_id=%s", due_date, loan_id)

    def many_checkouts(self, members: int, loans: int | None = None, prefix: str = "M") -> None:
        """``members`` members and ``loans`` open loans (default one each) spread over them, written in bulk
        with the columns the desk's checkout writes."""
        loans = members if loans is None else loans
        stamp = now()
        rows = 5_000
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(biblio_id), 0) FROM biblio")
            first = cursor.fetchone()[0] + 1
            batches = [
                ("INSERT INTO member (member_id, member_name, gender, expire_date, input_date, last_update)"
                 " VALUES (%s, %s, 0, '2027-08-31', '2022-08-01', '2022-08-01')",
                 [(f"{prefix}{i:06d}", f"Member {i}") for i in range(members)]),
                ("INSERT INTO biblio (biblio_id, title, input_date, last_update) VALUES (%s, %s, %s, %s)",
                 [(first + i, f"Judul {i}", stamp, stamp) for i in range(loans)]),
                ("INSERT INTO item (biblio_id, item_code, input_date, last_update) VALUES (%s, %s, %s, %s)",
                 [(first + i, f"{prefix}B{i:07d}", stamp, stamp) for i in range(loans)]),
                ("INSERT INTO loan (item_code, member_id, loan_date, due_date, renewed, loan_rules_id, is_lent,"
                 " is_return, input_date, last_update) VALUES (%s, %s, '2026-11-20', '2026-11-27', 0, 0, 1, 0, %s, %s)",
                 [(f"{prefix}B{i:07d}", f"{prefix}{i % members:06d}", stamp, stamp) for i in range(loans)]),
            ]  # fmt: skip
            for sql, values in batches:
                for start in range(0, len(values), rows):
                    cursor.executemany(sql, values[start : start + rows])

    # -- fines ------------------------------------------------------------------

    def overdue_fine(self, member_id: str, amount: int, item_code: str, on: date) -> int:
        return self._run(
            "INSERT INTO fines (fines_date, member_id, debet, credit, description) VALUES (%s, %s, %s, 0, %s)",
            on, member_id, amount, f"Overdue fines for item {item_code}",
        )  # fmt: skip

    def pay(self, fines_id: int, credit: int) -> None:
        """A payment: the fines row's credit becomes ``credit`` (the total paid so far)."""
        self._run("UPDATE fines SET credit=%s WHERE fines_id=%s", credit, fines_id)

    def forgive(self, fines_id: int) -> None:
        self._run("DELETE FROM fines WHERE fines_id=%s", fines_id)

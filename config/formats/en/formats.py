"""How the console writes dates and times: to the second, with the time zone (`7 Dec 2026,
14:03:27 UTC`). The API is not affected: it writes ISO 8601."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i:s T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
TIME_FORMAT = "H:i:s"

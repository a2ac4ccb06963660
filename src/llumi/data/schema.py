"""The store's tables, as Arrow schemas: the contract between ingest and every later stage.

Text columns hold *scrubbed* text (mentions, links, emails, phone numbers replaced by typed
placeholders such as ``[URL]``); ``author`` holds a keyed pseudonym (``a_`` + 16 hex), never a
username. Times are Unix seconds (UTC). ``score_lag`` is ``retrieved_on - created_utc`` in seconds,
null where either is unknown.
"""

import pyarrow as pa

POSTS = pa.schema([
    ("post_id", pa.string()),        # Reddit base36 id without prefix, or "<community>:<id>" for tables
    ("community", pa.string()),      # lower-cased subreddit, or the --community name
    ("author", pa.string()),         # keyed pseudonym, null when unknown/deleted
    ("title", pa.string()),
    ("text", pa.string()),           # scrubbed selftext / question text ("" for link posts)
    ("score", pa.int64()),
    ("created_utc", pa.int64()),
    ("retrieved_on", pa.int64()),
    ("score_lag", pa.int64()),
    ("edited", pa.bool_()),
    ("num_comments", pa.int64()),
    ("source", pa.string()),         # source file name (no directories)
    ("source_line", pa.int64()),     # 1-based line (row for tables) in the decompressed source
])

REPLIES = pa.schema([
    ("reply_id", pa.string()),       # Reddit comment id without prefix, or generated for tables
    ("post_id", pa.string()),        # the submission it belongs to (link_id without "t3_")
    ("parent_id", pa.string()),      # "t3_<post>" for a top-level reply, "t1_<comment>" for a nested one
    ("depth", pa.int32()),           # 1 = top-level; null when not known at ingest time
    ("community", pa.string()),
    ("author", pa.string()),
    ("text", pa.string()),
    ("score", pa.int64()),
    ("created_utc", pa.int64()),
    ("retrieved_on", pa.int64()),
    ("score_lag", pa.int64()),
    ("edited", pa.bool_()),
    ("is_submitter", pa.bool_()),    # written by the post's author (pseudonyms compared where the dump lacks the flag)
    ("source", pa.string()),
    ("source_line", pa.int64()),
    # duplicate keys (clean.duplicate_keys), computed at ingest so that finding duplicates when ingest
    # finishes never reads the texts back; null where a part was written without them
    ("text_hash", pa.uint64()),      # hash of text
    ("norm_hash", pa.uint64()),      # hash of text lower-cased, without trailing spaces and . ! ?
    ("text_chars", pa.int32()),      # characters in text
])

# Rows excluded after ingest, once every source is in (duplicates, too deep): the store's views hide them.
EXCLUDED = pa.schema([
    ("table", pa.string()),          # "posts" or "replies"
    ("id", pa.string()),
    ("part", pa.string()),           # the Parquet part file (name only) holding the excluded row
    ("source_line", pa.int64()),
    ("reason", pa.string()),
])

# Placeholder tokens that scrubbing puts in place of personal data.
PLACEHOLDERS = {
    "mention": "[USER]",
    "url": "[URL]",
    "email": "[EMAIL]",
    "phone": "[PHONE]",
}

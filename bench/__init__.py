"""The throughput and latency benchmark of the clearance pipeline (``python -m bench``).

It measures, in one run, on one broker and one database server: the raw
kafka-python ceiling, the service projecting circulation events, and
applications end to end at a fixed offered rate and at saturation, at two
store sizes; it reports peak RSS and shows pruning, and writes JSON, a PNG
chart and a table.
"""

"""What the benchmark scripts beside this file share: reading server-sent events, percentiles."""
import json


def sse_events(response):
    """Yields (event, data) from a server-sent event stream; data is parsed JSON."""
    event, data = None, []
    while True:
        line = response.readline()
        if not line:
            return
        line = line.decode().rstrip("\r\n")
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def percentile(values, p):
    """The p-th percentile, interpolated between the nearest ranks; nan for no values."""
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    f = int(k)
    return values[f] if f + 1 >= len(values) else values[f] + (values[f + 1] - values[f]) * (k - f)

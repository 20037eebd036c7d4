"""Server-sent events as kvserve writes them, read by the scripts beside this file."""
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

"""What the benchmark and fixture scripts share: reading server-sent events,
percentiles, a free port, waiting for a server, the long prompt texts."""
import http.client
import json
import socket
import time


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, path="/health", timeout=120, process=None):
    """Returns once GET `path` answers 200; raises after `timeout` seconds,
    or as soon as `process` (the server, if given) has exited."""
    end = time.time() + timeout
    while time.time() < end and (process is None or process.poll() is None):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not ready")


def long_text(topic, index):
    """About 600 tokens of notes on a topic, different for every conversation."""
    parts = [f"Here are my notes on {topic}, draft {index}. Please read them before answering."]
    for i in range(1, 31):
        parts.append(f"Note {i}: people who study {topic} often say that point {i * 7 + index} matters, "
                     f"because it changes how the rest fits together.")
    return " ".join(parts)

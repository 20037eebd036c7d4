"""kvserve scaled out on loopback: Debian's PostgreSQL, kvserve replicas
sharing it, and nginx with the repository's deploy/nginx/kvserve.conf in
front. Used by the scale-out tests (Tests/ServerTests/ScaleOut) and by
scripts/bench-scale.py. Standard library only."""
import glob, http.client, os, shutil, signal, socket, subprocess, time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def get(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    return r.status, r.read()


class Postgres:
    """A throwaway cluster in root/pg, run as the postgres user when we are
    root (PostgreSQL refuses to run as root). Without `durable`, commits are
    not flushed to disk (fsync off): quicker tests, nothing to measure."""

    def __init__(self, root, durable=False):
        self.durable = durable
        self.dir = os.path.join(root, "pg")
        os.makedirs(self.dir)
        self.port = free_port()
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.run("initdb", "-D", self.dir, "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def run(self, tool, *args):
        command = [os.path.join(self.bin, tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def query(self, sql):
        """psql's unaligned answer to one statement."""
        command = [os.path.join(self.bin, "psql"), "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-At", "-c", sql]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()

    def start(self):
        self.run("pg_ctl", "-D", self.dir, "-l", os.path.join(self.dir, "log"), "-w", "start",
                 "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync={'on' if self.durable else 'off'}")

    def stop(self):
        self.run("pg_ctl", "-D", self.dir, "-m", "fast", "-w", "stop")

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"


class Replica:
    """One `kvserve serve` with a data directory of its own; `store` is its
    session_store (a postgres:// URL, or None for the SQLite default)."""

    def __init__(self, name, kvserve, model, store, root, threads=1, settings=()):
        self.name, self.kvserve, self.model, self.store = name, kvserve, model, store
        self.threads, self.settings = threads, list(settings)
        self.data = os.path.join(root, name)
        os.makedirs(self.data, exist_ok=True)
        self.port = free_port()
        self.process = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.data, "log"), "ab")
        settings = [f"model={self.model}", f"port={self.port}", f"replica_name={self.name}", f"data_dir={self.data}",
                    f"threads={self.threads}", "shutdown_grace_seconds=20", *self.settings]
        if self.store:
            settings.append(f"session_store={self.store}")
        self.process = subprocess.Popen([self.kvserve, "serve", *[x for s in settings for x in ("--set", s)]],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: get(self.port, "/health")[0] == 200, 120, f"{self.name} to start")

    def kill(self, sig=signal.SIGKILL):
        self.process.send_signal(sig)
        self.process.wait(60)

    def restart(self):
        self.kill(signal.SIGTERM)
        if self.process.returncode != 0:
            raise RuntimeError(f"{self.name} exited {self.process.returncode} on SIGTERM")
        self.start()


class Nginx:
    """nginx with deploy/nginx/kvserve.conf; only the two small files saying
    where it listens and where the replicas are are written here."""

    def __init__(self, root, repo, replicas):
        self.prefix = os.path.join(root, "nginx")
        os.makedirs(os.path.join(self.prefix, "tmp"))
        self.port = free_port()
        with open(os.path.join(self.prefix, "kvserve-listen.conf"), "w") as f:
            f.write(f"listen 127.0.0.1:{self.port};\n")
        with open(os.path.join(self.prefix, "kvserve-upstreams.conf"), "w") as f:
            for r in replicas:
                f.write(f"server 127.0.0.1:{r.port} max_fails=1 fail_timeout=2s;\n")
        user = "user root;\n" if os.geteuid() == 0 else ""
        tmp = os.path.join(self.prefix, "tmp")
        with open(os.path.join(self.prefix, "nginx.conf"), "w") as f:
            f.write(f"""{user}worker_processes 1;
daemon off;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    include {repo}/deploy/nginx/kvserve.conf;
}}
""")
        self.process = subprocess.Popen(["nginx", "-p", self.prefix, "-c", os.path.join(self.prefix, "nginx.conf"),
                                         "-e", os.path.join(self.prefix, "error.log")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(lambda: get(self.port, "/nginx-health")[0] == 200, 30, "nginx to start")

    def stop(self):
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(30)


def tear_down(replicas=(), nginx=None, pg=None):
    for r in replicas or []:
        if r.process and r.process.poll() is None:
            r.kill(signal.SIGTERM)
    if nginx:
        nginx.stop()
    if pg:
        try:
            pg.stop()
        except subprocess.CalledProcessError:
            pass

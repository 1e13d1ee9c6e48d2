"""The test's controller and kubelet: ReplicaSets and pods for what was applied, status moves."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from tests.k8s.emulator import Emulator

Obj = dict[str, Any]
_n = itertools.count(1)


def owner_ref(obj: Obj) -> Obj:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
    }


def rollout(emu: Emulator, owner: Obj, *, pods: int = 1) -> tuple[Obj, list[Obj]]:
    """What the Deployment controller does: a ReplicaSet from the template, then its pods."""
    tmpl = owner["spec"]["template"]
    ns = owner["metadata"].get("namespace", "default")
    rs = emu.put(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{owner['metadata']['name']}-{next(_n):x}",
                "namespace": ns,
                "labels": dict(tmpl["metadata"].get("labels") or {}),
                "ownerReferences": [owner_ref(owner)],
            },
            "spec": {"template": copy.deepcopy(tmpl)},
        }
    )
    made = [make_pod(emu, rs, tmpl) for _ in range(pods)]
    return rs, made


def make_pod(emu: Emulator, owner: Obj, tmpl: Obj | None = None, name: str = "") -> Obj:
    tmpl = tmpl or owner["spec"]["template"]
    ns = owner["metadata"].get("namespace", "default")
    return emu.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name or f"{owner['metadata']['name']}-{next(_n):05x}",
                "namespace": ns,
                "labels": dict(tmpl["metadata"].get("labels") or {}),
                "ownerReferences": [owner_ref(owner)],
            },
            "spec": copy.deepcopy(tmpl["spec"]),
            "status": {"phase": "Pending"},
        }
    )


def running(container: str = "app", ready: bool = True, restarts: int = 0) -> Obj:
    return {
        "phase": "Running",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if ready else "False"},
        ],
        "containerStatuses": [
            {
                "name": container,
                "ready": ready,
                "restartCount": restarts,
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }
        ],
    }


class Controller:
    """A background controller + kubelet for engine-level tests.

    For every Deployment (new template hash) it creates a ReplicaSet and one pod, and moves
    the pod to Running/Ready; for every Job, a pod that completes (exit code from
    ``job_exit_codes``, default 0). ``image_outcome`` may turn a pod into a failure by image
    (e.g. ``{"web:bad": "CrashLoopBackOff"}``).
    """

    def __init__(
        self,
        emu: Emulator,
        *,
        image_outcome: dict[str, str] | None = None,
        job_exit_codes: dict[str, int] | None = None,
        job_logs: dict[str, list[str]] | None = None,
        job_image_exit_codes: dict[str, int] | None = None,
        job_attempts: dict[str, list[tuple[int, list[str]]]] | None = None,
    ) -> None:
        import threading

        self.emu = emu
        self.image_outcome = image_outcome or {}
        self.job_exit_codes = job_exit_codes or {}
        #: per image: the lines a Job's pod writes before it ends
        self.job_logs = job_logs or {}
        #: per image: a Job pod's exit code (after ``job_exit_codes`` by Job name)
        self.job_image_exit_codes = job_image_exit_codes or {}
        #: per image: one (exit code, log lines) per pod, made one after the other as the
        #: Job controller retries (the last decides the Job); overrides the two above
        self.job_attempts = job_attempts or {}
        #: every Job pod made, in order
        self.job_pods: list[str] = []
        self._seen: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="test-controller")

    def __enter__(self) -> Controller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        last = 0
        while not self._stop.is_set():
            with self.emu.cond:
                batch = [e for e in self.emu.events if e[0] > last]
                if not batch:
                    self.emu.cond.wait(0.2)
                    continue
                last = batch[-1][0]
            for _, etype, _rkey, obj in batch:
                if etype == "DELETED":
                    continue
                kind = obj.get("kind")
                if kind == "Deployment":
                    self._deployment(obj)
                elif kind == "Job":
                    self._job(obj)

    def _image(self, tmpl: Obj) -> str:
        return str(tmpl["spec"]["containers"][0].get("image", ""))

    def _deployment(self, dep: Obj) -> None:
        tmpl = dep["spec"]["template"]
        key = (
            dep["metadata"]["uid"],
            repr(sorted((tmpl.get("metadata") or {}).get("labels", {}).items()))
            + self._image(tmpl),
        )
        if key in self._seen:
            return
        self._seen.add(key)
        _, (pod,) = rollout(self.emu, dep)
        self._kubelet(pod, self._image(tmpl))

    def _job(self, job: Obj) -> None:
        key = (job["metadata"]["uid"], "")
        if key in self._seen:
            return
        self._seen.add(key)
        image = self._image(job["spec"]["template"])
        attempts: list[tuple[int, list[str] | None]] = list(self.job_attempts.get(image) or [])
        if not attempts:
            code = self.job_exit_codes.get(
                job["metadata"]["name"], self.job_image_exit_codes.get(image, 0)
            )
            attempts = [(code, self.job_logs.get(image))]
        ns = job["metadata"].get("namespace", "default")
        limit = int(job["spec"].get("backoffLimit", 6))
        failures = 0
        code = 0
        for code, lines in attempts:  # (attempts run out: the last one's code is final)
            self._job_pod(job, code, lines)
            if code == 0:
                break
            failures += 1
            if failures > limit:
                break
            # The Job controller counts the failure and makes the next pod.
            self.emu.patch_status(
                "Job",
                job["metadata"]["name"],
                {"failed": failures},
                namespace=ns,
                api_version="batch/v1",
            )
        # The Job controller's verdict (backoffLimit reached: the last failure is final).
        cond = "Complete" if code == 0 else "Failed"
        status: Obj = {
            "conditions": [
                {
                    "type": cond,
                    "status": "True",
                    "reason": "Completed" if code == 0 else "BackoffLimitExceeded",
                    "message": "" if code == 0 else "Job has reached the specified backoff limit",
                }
            ],
        }
        if code == 0:
            status["succeeded"] = 1
        if failures:
            status["failed"] = failures
        self.emu.patch_status(
            "Job", job["metadata"]["name"], status, namespace=ns, api_version="batch/v1"
        )

    def _job_pod(self, job: Obj, code: int, lines: list[str] | None) -> None:
        """One pod of the Job that writes ``lines`` and exits with ``code``."""
        pod = make_pod(self.emu, job)
        self.job_pods.append(pod["metadata"]["name"])
        c = pod["spec"]["containers"][0]["name"]
        ns = pod["metadata"]["namespace"]
        if lines is not None:
            self.emu.log(pod["metadata"]["name"], c, *lines, namespace=ns)
            self.emu.end_logs(pod["metadata"]["name"], c, namespace=ns)
        self.emu.patch_status(
            "Pod",
            pod["metadata"]["name"],
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [
                    {
                        "name": c,
                        "ready": False,
                        "restartCount": 0,
                        "state": {
                            "terminated": {
                                "exitCode": code,
                                "reason": "Completed" if code == 0 else "Error",
                            }
                        },
                    }
                ],
            },
            namespace=ns,
        )

    def _kubelet(self, pod: Obj, image: str) -> None:
        name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
        c = pod["spec"]["containers"][0]["name"]
        outcome = self.image_outcome.get(image)
        if outcome is None and ":" in image:  # also by repository alone (refs tilt tags itself)
            outcome = self.image_outcome.get(image.rsplit(":", 1)[0])
        if outcome:
            self.emu.patch_status(
                "Pod",
                name,
                {
                    "phase": "Running" if outcome == "CrashLoopBackOff" else "Pending",
                    "conditions": [{"type": "PodScheduled", "status": "True"}],
                    "containerStatuses": [
                        {
                            "name": c,
                            "ready": False,
                            "restartCount": 2,
                            "state": {"waiting": {"reason": outcome}},
                            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                        }
                    ],
                },
                namespace=ns,
            )
            return
        self.emu.patch_status("Pod", name, running(container=c), namespace=ns)

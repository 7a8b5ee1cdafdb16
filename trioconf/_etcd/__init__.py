"""The etcd v3 source, ``trioconf.Etcd``; httpx is imported only when one runs."""

from ._source import Etcd as Etcd

__all__ = ["Etcd"]

"""trioconf: Trio-native configuration hot reload.

Typed, layered configuration (JSON, TOML, YAML, environment variables) loaded into attrs
classes, watched on disk, validated, and swapped in one step; the last good snapshot stays when
an edit is bad.
"""

from ._errors import ConcurrentModification as ConcurrentModification
from ._errors import ConfigError as ConfigError
from ._errors import FieldError as FieldError
from ._errors import LockTimeout as LockTimeout
from ._errors import MissingSourceError as MissingSourceError
from ._errors import OperationTimeout as OperationTimeout
from ._errors import ParseError as ParseError
from ._errors import RejectedError as RejectedError
from ._errors import SourceError as SourceError
from ._errors import UnknownFormatError as UnknownFormatError
from ._errors import ValidationError as ValidationError
from ._etcd import Etcd as Etcd
from ._guard import FileGuard as FileGuard
from ._guard import GuardStatistics as GuardStatistics
from ._guard import LockedFile as LockedFile
from ._guard import write_atomic as write_atomic
from ._hold import RestartPending as RestartPending
from ._live import Live as Live
from ._load import load as load
from ._marks import SecretStr as SecretStr
from ._marks import field as field
from ._records import Cleared as Cleared
from ._records import Failure as Failure
from ._records import PastUpdate as PastUpdate
from ._records import Statistics as Statistics
from ._records import Update as Update
from ._reloader import open_reloader as open_reloader
from ._reloader import run_reloader as run_reloader
from ._schema import json_schema as json_schema
from ._search import FirstFound as FirstFound
from ._search import first_found as first_found
from ._source import Notify as Notify
from ._source import Source as Source
from ._sources import Directory as Directory
from ._sources import DotEnv as DotEnv
from ._sources import Env as Env
from ._sources import File as File
from ._sources import SecretsDir as SecretsDir
from ._units import unit as unit
from ._version import __version__ as __version__
from ._view import View as View

__all__ = [
    "Cleared",
    "ConcurrentModification",
    "ConfigError",
    "Directory",
    "DotEnv",
    "Env",
    "Etcd",
    "Failure",
    "FieldError",
    "File",
    "FileGuard",
    "FirstFound",
    "GuardStatistics",
    "Live",
    "LockTimeout",
    "LockedFile",
    "MissingSourceError",
    "Notify",
    "OperationTimeout",
    "ParseError",
    "PastUpdate",
    "RejectedError",
    "RestartPending",
    "SecretStr",
    "SecretsDir",
    "Source",
    "SourceError",
    "Statistics",
    "UnknownFormatError",
    "Update",
    "ValidationError",
    "View",
    "field",
    "first_found",
    "json_schema",
    "load",
    "open_reloader",
    "run_reloader",
    "unit",
    "write_atomic",
]

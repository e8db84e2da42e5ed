"""trioproto: WebSocket for trio, built on structured concurrency.

This module only re-exports the public names defined in private modules.
"""

from ._config import DEFAULT_LIMITS as DEFAULT_LIMITS
from ._config import DEFAULT_TIMEOUTS as DEFAULT_TIMEOUTS
from ._config import Limits as Limits
from ._config import Timeouts as Timeouts
from ._exceptions import HandshakeError as HandshakeError
from ._exceptions import HandshakeRejected as HandshakeRejected
from ._exceptions import InvalidHandshake as InvalidHandshake
from ._exceptions import LocalProtocolError as LocalProtocolError
from ._exceptions import PayloadTooBig as PayloadTooBig
from ._exceptions import ProtocolError as ProtocolError
from ._exceptions import RemoteProtocolError as RemoteProtocolError
from ._exceptions import TrioprotoError as TrioprotoError
from ._version import __version__ as __version__

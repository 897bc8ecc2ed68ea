//! The local IPC socket: JSON-RPC 2.0 over a Unix socket, one message per line (docs/ipc.md).

pub mod protocol;
pub mod server;

pub use protocol::{Request, Response, RpcError};
pub use server::{Handler, IpcLimits, IpcServer, Peer, default_socket_path};

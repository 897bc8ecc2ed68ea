//! o365-auth core. Knows nothing of Tauri or any window.

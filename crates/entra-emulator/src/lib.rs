//! A local emulator of the Microsoft identity platform and Microsoft Graph.

pub mod browser;
pub mod certificate;

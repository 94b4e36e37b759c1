//! Starts the bundled mock server a scenario runs against, configured with the
//! scenario's fault knobs, on `127.0.0.1:0`.

use parley_mock::MockServer;

use crate::proto::Protocol;
use crate::scenario::Scenario;
use crate::scenario::plan::Faults;

/// The write knobs of `faults` in the mock servers' terms.
pub fn mock_faults(faults: &Faults) -> parley_mock::faults::MockFaults {
    parley_mock::faults::MockFaults {
        split_writes: faults.split_writes,
        write_delay: faults.write_delay,
        reply_delay: faults.reply_delay,
    }
}

/// The FTP mock's configuration for these faults.
pub fn ftp_config(faults: &Faults) -> parley_mock::ftp::FtpConfig {
    parley_mock::ftp::FtpConfig {
        faults: mock_faults(faults),
        multiline_greeting: faults.multiline_greeting,
        bare_lf: faults.bare_lf,
        transfer_delay: faults.transfer_delay,
        refuse_data: faults.refuse_data,
        ..Default::default()
    }
}

/// The HTTP mock's configuration for these faults.
pub fn http_config(faults: &Faults) -> parley_mock::http::HttpConfig {
    parley_mock::http::HttpConfig {
        faults: mock_faults(faults),
        no_content_length: faults.no_content_length,
        close_delay: faults.close_delay,
        // The document root built into the binary: found wherever parley runs.
        bundled_www: true,
        ..Default::default()
    }
}

/// Starts the mock for `scenario.protocol`.
pub async fn start(scenario: &Scenario) -> std::io::Result<MockServer> {
    let faults = &scenario.faults;
    match scenario.protocol {
        Protocol::Echo => {
            MockServer::echo(parley_mock::echo::EchoConfig {
                faults: mock_faults(faults),
                ..Default::default()
            })
            .await
        }
        Protocol::Http => MockServer::http(http_config(faults)).await,
        Protocol::Ftp => MockServer::ftp(ftp_config(faults)).await,
    }
}

#[cfg(test)]
mod tests {
    /// Scenarios read the mocks' trees from parley's own bundle
    /// ([`crate::scenario::source`]), the mocks serve theirs: two copies of the same
    /// directories, which must hold the same files.
    #[test]
    fn the_bundle_holds_the_trees_the_mocks_serve() {
        for (prefix, served) in [
            ("fixtures/ftp-root/", parley_mock::bundled::FTP_ROOT),
            ("fixtures/www/", parley_mock::bundled::WWW),
        ] {
            let bundled: Vec<(String, &[u8])> = crate::scenario::source::bundled_files()
                .filter_map(|(path, bytes)| path.strip_prefix(prefix).map(|rest| (rest.to_string(), bytes)))
                .collect();
            let served: Vec<(String, &[u8])> = served.iter().map(|(p, b)| (p.to_string(), *b)).collect();
            assert!(!served.is_empty(), "{prefix}");
            assert_eq!(bundled, served, "{prefix}");
        }
    }
}

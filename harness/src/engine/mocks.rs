//! Starts the bundled mock server a scenario runs against, configured with the
//! scenario's fault knobs, on `127.0.0.1:0`.

use parley_mock::MockServer;

use crate::proto::Protocol;
use crate::scenario::Scenario;

/// Starts the mock for `scenario.protocol`.
pub async fn start(scenario: &Scenario) -> std::io::Result<MockServer> {
    let faults = scenario.faults.to_mock();
    match scenario.protocol {
        Protocol::Echo => {
            MockServer::echo(parley_mock::echo::EchoConfig {
                faults,
                ..Default::default()
            })
            .await
        }
        Protocol::Http | Protocol::Ftp => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("no bundled {} mock server yet", scenario.protocol),
        )),
    }
}

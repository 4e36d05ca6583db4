//! Serving a router on a loopback listener until its handle is dropped.

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A server running in the background; dropping the handle shuts it down.
pub(crate) struct Running {
    pub endpoint: String,
    shutdown: Option<oneshot::Sender<()>>,
}

/// A listener bound, whose endpoint is known before the router that may need it is built.
pub(crate) struct Bound {
    listener: TcpListener,
    pub endpoint: String,
}

impl Bound {
    pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        Ok(Self { listener, endpoint })
    }

    pub fn serve(self, router: Router) -> Running {
        let (shutdown, stopped) = oneshot::channel::<()>();
        let listener = self.listener;
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Running { endpoint: self.endpoint, shutdown: Some(shutdown) }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

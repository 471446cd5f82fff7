//! The floor under ureq's `Agent`: one HTTP/1.1 call on ureq-proto's state machine
//! (ureq's own sans-IO layer) over a plain `TcpStream`, with a `Vec` of idle connections.
//! Only what a here-now GET needs: `http` only, no request body, no redirects, no
//! timeouts, no gzip. For measurement (`prof_call ureq-lean`, the e2e bench's ureq
//! section), not for use: it is what a blocking transport on ureq-proto would cost at
//! the least.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;

use transport_common::Error;
use ureq_proto::client::{Call, RecvBodyResult, RecvResponseResult, SendRequestResult};

/// The client: idle connections by nothing but their order (one origin).
#[derive(Default)]
pub struct LeanUreq {
    idle: Mutex<Vec<Conn>>,
}

impl LeanUreq {
    /// Sends `req` (a bodiless GET to an `http` origin) and reads the whole response.
    pub fn execute(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, Error> {
        let conn = self.idle.lock().expect("pool").pop();
        let mut conn = match conn {
            Some(conn) => conn,
            None => {
                let addr = req.uri().authority().map(|a| a.as_str());
                addr.and_then(Conn::open)
                    .ok_or_else(|| Error::invalid("connect failed"))?
            }
        };
        let (resp, reuse) = conn
            .call(req.map(|_| ()))
            .ok_or_else(|| Error::invalid("the call failed"))?;
        if reuse {
            self.idle.lock().expect("pool").push(conn);
        }
        Ok(resp)
    }
}

/// A kept-alive connection and the bytes read from it but not yet used.
struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    used: usize,
    filled: usize,
}

impl Conn {
    fn open(addr: &str) -> Option<Conn> {
        let stream = TcpStream::connect(addr).ok()?;
        stream.set_nodelay(true).ok()?;
        Some(Conn {
            stream,
            input: vec![0; 16 * 1024],
            used: 0,
            filled: 0,
        })
    }

    /// Reads more into the input buffer; false at EOF or on an error.
    fn fill(&mut self) -> bool {
        if self.used == self.filled {
            (self.used, self.filled) = (0, 0);
        }
        match self.stream.read(&mut self.input[self.filled..]) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.filled += n;
                true
            }
        }
    }

    /// The response, and whether the connection can be reused.
    fn call(&mut self, req: http::Request<()>) -> Option<(http::Response<Vec<u8>>, bool)> {
        let mut call = Call::new(req).ok()?.proceed();
        let mut out = [0u8; 2048];
        let n = call.write(&mut out).ok()?;
        self.stream.write_all(&out[..n]).ok()?;
        let mut call = match call.proceed().ok()?? {
            SendRequestResult::RecvResponse(c) => c,
            _ => return None,
        };
        let head = loop {
            let (n, resp) = call
                .try_response(&self.input[self.used..self.filled], false)
                .ok()?;
            self.used += n;
            if let Some(resp) = resp {
                break resp;
            }
            if !self.fill() {
                return None;
            }
        };
        let mut call = match call.proceed()? {
            RecvResponseResult::RecvBody(c) => c,
            RecvResponseResult::Cleanup(c) => {
                return Some((head.map(|()| Vec::new()), !c.must_close_connection()))
            }
            RecvResponseResult::Redirect(_) => return None,
        };
        let mut body = vec![0u8; 8 * 1024];
        let mut len = 0;
        while !call.can_proceed() {
            if self.used == self.filled && !self.fill() {
                return None;
            }
            let (i, o) = call
                .read(&self.input[self.used..self.filled], &mut body[len..])
                .ok()?;
            self.used += i;
            len += o;
            if len == body.len() {
                body.resize(len * 2, 0);
            }
        }
        body.truncate(len);
        match call.proceed()? {
            RecvBodyResult::Cleanup(c) => Some((head.map(|()| body), !c.must_close_connection())),
            RecvBodyResult::Redirect(_) => None,
        }
    }
}

//! A small SMTP client (RFC 5321) for the mailer: plain SMTP to a relay,
//! no TLS and no AUTH, so the relay must accept mail from the app's
//! network without either (a local sink in development, a relay on a
//! private network in production: `docs/identity.md`, "Mail").
//!
//! [`Session`] speaks the dialogue over any `Read + Write` (a TCP stream in
//! a component, through `wasi:sockets`); [`compose`] builds the message
//! text. Both are pure enough to be unit-tested natively.

use std::fmt;
use std::io::{Read, Write};

/// Where the relay listens: `smtp://host:port` (port 25 when omitted).
/// Under Spin a component resolves no host names, so `host` is an IP
/// address there, and `tcp://host:port` must be in the component's
/// `allowed_outbound_hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
}

impl SmtpUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .trim()
            .strip_prefix("smtp://")
            .ok_or_else(|| "must start with smtp://".to_owned())?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
            return Err("must be smtp://host:port".to_owned());
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, rest) = v6
                    .split_once(']')
                    .ok_or_else(|| "must be smtp://host:port".to_owned())?;
                (host, rest.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .map_err(|_| format!("{port:?} is not a port"))?,
            None => 25,
        };
        if host.is_empty() || port == 0 {
            return Err("must be smtp://host:port".to_owned());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// Opens a TCP connection to the relay, giving up on the connect and on
    /// each read and write after [`TIMEOUT`] (a relay on the same network
    /// answers in milliseconds; a request that delivers must not hang on
    /// one that does not). A timeout the platform cannot set is skipped.
    pub fn connect(&self) -> std::io::Result<std::net::TcpStream> {
        use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
        let addresses: Vec<SocketAddr> =
            (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        for address in addresses {
            let connected = match TcpStream::connect_timeout(&address, TIMEOUT) {
                Err(err) if err.kind() == std::io::ErrorKind::Unsupported => {
                    TcpStream::connect(address)
                }
                other => other,
            };
            match connected {
                Ok(stream) => {
                    let _ = stream.set_read_timeout(Some(TIMEOUT));
                    let _ = stream.set_write_timeout(Some(TIMEOUT));
                    return Ok(stream);
                }
                Err(err) => last = err,
            }
        }
        Err(last)
    }
}

/// How long a connect, a read or a write may take.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a conversation or a message failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpError {
    /// The connection failed or closed: nothing more can go over it.
    Io(String),
    /// The server answered something that is not an SMTP reply, or not
    /// the one the step needs (`step` names it).
    Protocol { step: &'static str, reply: String },
    /// The server refused this message (`code` 4xx: try later; 5xx: never).
    /// The session is still usable.
    Rejected {
        step: &'static str,
        code: u16,
        reply: String,
    },
    /// The message cannot be sent as it is (a line break in a header, an
    /// address that is not one).
    BadMessage(String),
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(err) => write!(f, "connection: {err}"),
            Self::Protocol { step, reply } => write!(f, "{step}: unexpected reply {reply:?}"),
            Self::Rejected { step, code, reply } => write!(f, "{step}: refused {code} {reply}"),
            Self::BadMessage(why) => write!(f, "message: {why}"),
        }
    }
}

impl SmtpError {
    /// Whether the connection is still good for the next message.
    pub fn session_usable(&self) -> bool {
        matches!(self, Self::Rejected { .. } | Self::BadMessage(_))
    }
}

fn io(err: std::io::Error) -> SmtpError {
    SmtpError::Io(err.to_string())
}

/// A reply: its code and the text of its last line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    code: u16,
    text: String,
}

/// One SMTP conversation with a relay, greeted and introduced.
pub struct Session<S: Read + Write> {
    stream: S,
    buffer: Vec<u8>,
}

/// The longest reply line read (RFC 5321 §4.5.3.1.5 says 512 octets).
const MAX_LINE: usize = 4096;

impl<S: Read + Write> Session<S> {
    /// Reads the greeting (220) and says `EHLO client` (then `HELO` if
    /// the server does not know EHLO).
    pub fn open(stream: S, client: &str) -> Result<Self, SmtpError> {
        let mut session = Self {
            stream,
            buffer: Vec::new(),
        };
        session.expect("greeting", &[220])?;
        session.command(&format!("EHLO {client}"))?;
        let reply = session.reply("EHLO")?;
        if reply.code != 250 {
            session.command(&format!("HELO {client}"))?;
            session.expect("HELO", &[250])?;
        }
        Ok(session)
    }

    /// Sends one message (`data` from [`compose`]) from `from` to `to`. A
    /// refusal resets the transaction (`RSET`) so that the session can go on.
    pub fn send(&mut self, from: &str, to: &str, data: &str) -> Result<(), SmtpError> {
        check_address(from)?;
        check_address(to)?;
        let result = self.transaction(from, to, data);
        if let Err(SmtpError::Rejected { .. }) = &result {
            self.command("RSET")?;
            self.expect("RSET", &[250])?;
        }
        result
    }

    fn transaction(&mut self, from: &str, to: &str, data: &str) -> Result<(), SmtpError> {
        self.command(&format!("MAIL FROM:<{from}>"))?;
        self.expect_or_reject("MAIL FROM", &[250])?;
        self.command(&format!("RCPT TO:<{to}>"))?;
        self.expect_or_reject("RCPT TO", &[250, 251])?;
        self.command("DATA")?;
        self.expect_or_reject("DATA", &[354])?;
        let mut payload = dot_stuff(data);
        payload.push_str(".\r\n");
        self.stream.write_all(payload.as_bytes()).map_err(io)?;
        self.stream.flush().map_err(io)?;
        self.expect_or_reject("end of data", &[250])?;
        Ok(())
    }

    /// Says `QUIT` and waits for the goodbye; a server that just closes is
    /// fine too (the messages were already accepted).
    pub fn quit(mut self) {
        if self.command("QUIT").is_ok() {
            let _ = self.reply("QUIT");
        }
    }

    fn command(&mut self, line: &str) -> Result<(), SmtpError> {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .map_err(io)?;
        self.stream.flush().map_err(io)
    }

    fn expect(&mut self, step: &'static str, codes: &[u16]) -> Result<Reply, SmtpError> {
        let reply = self.reply(step)?;
        if codes.contains(&reply.code) {
            Ok(reply)
        } else {
            Err(SmtpError::Protocol {
                step,
                reply: format!("{} {}", reply.code, reply.text),
            })
        }
    }

    fn expect_or_reject(&mut self, step: &'static str, codes: &[u16]) -> Result<Reply, SmtpError> {
        let reply = self.reply(step)?;
        match reply.code {
            code if codes.contains(&code) => Ok(reply),
            400..=599 => Err(SmtpError::Rejected {
                step,
                code: reply.code,
                reply: reply.text,
            }),
            _ => Err(SmtpError::Protocol {
                step,
                reply: format!("{} {}", reply.code, reply.text),
            }),
        }
    }

    /// One reply, over as many `ddd-` lines as it has.
    fn reply(&mut self, step: &'static str) -> Result<Reply, SmtpError> {
        loop {
            let line = self.line()?;
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (200..600).contains(c));
            let Some(code) = code else {
                return Err(SmtpError::Protocol { step, reply: line });
            };
            match line.as_bytes().get(3) {
                Some(b'-') => continue,
                None | Some(b' ') => {
                    return Ok(Reply {
                        code,
                        text: line.get(4..).unwrap_or("").to_owned(),
                    });
                }
                Some(_) => return Err(SmtpError::Protocol { step, reply: line }),
            }
        }
    }

    fn line(&mut self) -> Result<String, SmtpError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\r', '\n']).to_owned());
            }
            if self.buffer.len() > MAX_LINE {
                return Err(SmtpError::Io("reply line too long".into()));
            }
            let mut chunk = [0u8; 512];
            let n = self.stream.read(&mut chunk).map_err(io)?;
            if n == 0 {
                return Err(SmtpError::Io("the server closed the connection".into()));
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

/// An address usable in `MAIL FROM`/`RCPT TO` and a header: one `@` with
/// something on both sides, and nothing that could end a line or the path.
fn check_address(address: &str) -> Result<(), SmtpError> {
    let ok = address.len() <= 254
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\",;".contains(c))
        && address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if ok {
        Ok(())
    } else {
        Err(SmtpError::BadMessage(format!(
            "{address:?} is not a mailbox"
        )))
    }
}

/// What [`compose`] writes.
pub struct Outgoing<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// Seconds since the Unix epoch, for `Date`.
    pub date: i64,
    /// Unique per message (the outbox row's id), for `Message-ID`.
    pub id: &'a str,
}

/// The message text (RFC 5322 headers, a blank line, the body), with CRLF
/// line ends, a UTF-8 plain-text body, and the subject encoded (RFC 2047)
/// when it is not ASCII. A header value holding a line break is refused:
/// no input may add a header.
pub fn compose(message: &Outgoing<'_>) -> Result<String, SmtpError> {
    check_address(message.from)?;
    check_address(message.to)?;
    if message.subject.chars().any(char::is_control)
        || !message
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(SmtpError::BadMessage(
            "a header holds a control character".into(),
        ));
    }
    let domain = message
        .from
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let subject = if message.subject.is_ascii() {
        message.subject.to_owned()
    } else {
        use base64::Engine;
        format!(
            "=?utf-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(message.subject)
        )
    };
    let mut text = String::with_capacity(message.body.len() + 512);
    text.push_str(&format!("Date: {}\r\n", rfc5322_date(message.date)));
    text.push_str(&format!("From: <{}>\r\n", message.from));
    text.push_str(&format!("To: <{}>\r\n", message.to));
    text.push_str(&format!("Subject: {subject}\r\n"));
    text.push_str(&format!("Message-ID: <{}@{domain}>\r\n", message.id));
    text.push_str("MIME-Version: 1.0\r\n");
    text.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    text.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
    for line in message.body.lines() {
        text.push_str(line);
        text.push_str("\r\n");
    }
    Ok(text)
}

/// `data` with every line that starts with `.` given one more (RFC 5321
/// §4.5.2), so that no line of the body ends the message early.
fn dot_stuff(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 16);
    for line in data.split_inclusive('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

/// `Tue, 01 Dec 2026 21:09:46 +0000` for `secs` since the Unix epoch (UTC).
fn rfc5322_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of day `days` since 1970-01-01 (Howard
/// Hinnant's days-to-civil algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A scripted server: what it answers, and what the client wrote.
    struct Scripted {
        replies: Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.replies.read(buf)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn server(replies: &str) -> Scripted {
        Scripted {
            replies: Cursor::new(replies.as_bytes().to_vec()),
            written: Vec::new(),
        }
    }

    #[test]
    fn urls() {
        let ok = [
            ("smtp://127.0.0.1:2525", "127.0.0.1", 2525),
            ("smtp://10.0.0.5", "10.0.0.5", 25),
            ("smtp://relay.internal:587/", "relay.internal", 587),
            ("smtp://[::1]:2525", "::1", 2525),
        ];
        for (url, host, port) in ok {
            assert_eq!(
                SmtpUrl::parse(url),
                Ok(SmtpUrl {
                    host: host.into(),
                    port
                }),
                "{url}"
            );
        }
        for bad in [
            "",
            "http://h:25",
            "smtp://",
            "smtp://h:x",
            "smtp://h:0",
            "smtp://u:p@h:25",
            "smtp://h:25/path",
        ] {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_conversation_sends_the_message_dot_stuffed() {
        let mut s = server(
            "220 sink ready\r\n250-sink\r\n250 8BITMIME\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
        );
        let mut session = Session::open(&mut s, "plinth").unwrap();
        session
            .send(
                "app@example.com",
                "ann@example.com",
                "Subject: x\r\n\r\n.hidden\r\nend\r\n",
            )
            .unwrap();
        session.quit();
        let written = String::from_utf8(s.written).unwrap();
        assert_eq!(
            written,
            "EHLO plinth\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<ann@example.com>\r\nDATA\r\n\
             Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\nQUIT\r\n"
        );
    }

    #[test]
    fn helo_when_ehlo_is_unknown() {
        let mut s = server("220 old\r\n500 what\r\n250 hello\r\n");
        Session::open(&mut s, "plinth").unwrap();
        assert_eq!(
            String::from_utf8(s.written).unwrap(),
            "EHLO plinth\r\nHELO plinth\r\n"
        );
    }

    #[test]
    fn a_refused_recipient_resets_and_keeps_the_session() {
        let mut s = server("220 x\r\n250 x\r\n250 ok\r\n550 no such user\r\n250 reset\r\n");
        let mut session = Session::open(&mut s, "plinth").unwrap();
        let err = session
            .send("app@example.com", "nobody@example.com", "x\r\n")
            .unwrap_err();
        assert_eq!(
            err,
            SmtpError::Rejected {
                step: "RCPT TO",
                code: 550,
                reply: "no such user".into()
            }
        );
        assert!(err.session_usable());
        assert!(String::from_utf8(s.written).unwrap().ends_with("RSET\r\n"));
    }

    #[test]
    fn garbage_and_closed_connections_are_errors() {
        let mut s = server("hello there\r\n");
        assert!(matches!(
            Session::open(&mut s, "p"),
            Err(SmtpError::Protocol { .. })
        ));
        let mut s = server("220 x\r\n");
        assert!(matches!(Session::open(&mut s, "p"), Err(SmtpError::Io(_))));
        let mut s = server("554 go away\r\n");
        assert!(matches!(
            Session::open(&mut s, "p"),
            Err(SmtpError::Protocol { .. })
        ));
    }

    #[test]
    fn compose_writes_headers_and_refuses_injection() {
        let message = Outgoing {
            from: "app@plinth.test",
            to: "ann@example.com",
            subject: "Réinitialiser",
            body: "line one\nline two",
            date: 1_796_159_386,
            id: "3f2504e0-4f89",
        };
        let text = compose(&message).unwrap();
        assert!(
            text.starts_with("Date: Tue, 01 Dec 2026 21:09:46 +0000\r\n"),
            "{text}"
        );
        assert!(text.contains("To: <ann@example.com>\r\n"));
        assert!(text.contains("Subject: =?utf-8?B?UsOpaW5pdGlhbGlzZXI=?=\r\n"));
        assert!(text.contains("Message-ID: <3f2504e0-4f89@plinth.test>\r\n"));
        assert!(text.ends_with("\r\n\r\nline one\r\nline two\r\n"));

        let injected = Outgoing {
            subject: "hi\r\nBcc: eve@example.com",
            ..message
        };
        assert!(compose(&injected).is_err());
        for to in ["a@b>\r\nRCPT TO:<eve@x", "no-at", "a b@c", "@x", "x@"] {
            let bad = Outgoing { to, ..message };
            assert!(compose(&bad).is_err(), "{to}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_796_159_386),
            "Tue, 01 Dec 2026 21:09:46 +0000"
        );
    }
}

//! Conversions between Postgres values and the `spin:postgres@4.0.0` WIT
//! types, with Spin 4.0.2's exact rules.
//!
//! Spin converts through fixed Rust types (chrono, uuid, serde_json,
//! rust_decimal), so which parameter binds to which column type, and which
//! column types fail to read, follow those types' `ToSql`/`FromSql`
//! `accepts`. Using the same Rust types here reproduces that behaviour,
//! including its quirks (timestamptz cannot be read; `Str` binds only
//! text-like types; `Int8` binds nothing in practice).

use anyhow::{Context, anyhow};
use bytes::{BufMut, BytesMut};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::bindings::spin::postgres::postgres::{
    DbDataType, DbValue, Interval as WitInterval, ParameterValue, RangeBoundKind,
};

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// The WIT data type reported for a column.
pub fn data_type(t: &Type) -> DbDataType {
    match *t {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(t.name().to_owned()),
    }
}

/// Reads `Option<T>` and maps a present value; NULL becomes `DbNull`.
/// The type check happens before the NULL check, as in Spin.
fn get<'a, T: FromSql<'a>>(
    row: &'a Row,
    i: usize,
    f: impl FnOnce(T) -> anyhow::Result<DbValue>,
) -> anyhow::Result<DbValue> {
    let v: Option<T> = row.try_get(i)?;
    match v {
        Some(v) => f(v),
        None => Ok(DbValue::DbNull),
    }
}

/// Converts one cell of a result row.
pub fn convert_entry(row: &Row, i: usize) -> anyhow::Result<DbValue> {
    use chrono::{Datelike, Timelike};
    let t = row.columns()[i].type_().clone();
    match t {
        Type::BOOL => get(row, i, |v| Ok(DbValue::Boolean(v))),
        Type::BYTEA => get(row, i, |v| Ok(DbValue::Binary(v))),
        Type::FLOAT4 => get(row, i, |v| Ok(DbValue::Floating32(v))),
        Type::FLOAT8 => get(row, i, |v| Ok(DbValue::Floating64(v))),
        Type::INT2 => get(row, i, |v| Ok(DbValue::Int16(v))),
        Type::INT4 => get(row, i, |v| Ok(DbValue::Int32(v))),
        Type::INT8 => get(row, i, |v| Ok(DbValue::Int64(v))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get(row, i, |v| Ok(DbValue::Str(v))),
        // Spin reads both as a naive datetime; for timestamptz that is a
        // type error that fails the whole query (kept on purpose).
        Type::TIMESTAMP | Type::TIMESTAMPTZ => get(row, i, |v: chrono::NaiveDateTime| {
            Ok(DbValue::Datetime((
                v.year(),
                v.month().try_into()?,
                v.day().try_into()?,
                v.hour().try_into()?,
                v.minute().try_into()?,
                v.second().try_into()?,
                v.nanosecond(),
            )))
        }),
        Type::DATE => get(row, i, |v: chrono::NaiveDate| {
            Ok(DbValue::Date((
                v.year(),
                v.month().try_into()?,
                v.day().try_into()?,
            )))
        }),
        Type::TIME => get(row, i, |v: chrono::NaiveTime| {
            Ok(DbValue::Time((
                v.hour().try_into()?,
                v.minute().try_into()?,
                v.second().try_into()?,
                v.nanosecond(),
            )))
        }),
        Type::UUID => get(row, i, |v: uuid::Uuid| Ok(DbValue::Uuid(v.to_string()))),
        Type::JSONB => get(row, i, |v: serde_json::Value| {
            Ok(DbValue::Jsonb(
                serde_json::to_vec(&v).context("invalid JSON from database")?,
            ))
        }),
        Type::NUMERIC => get(row, i, |v: rust_decimal::Decimal| {
            Ok(DbValue::Decimal(v.to_string()))
        }),
        Type::INT4_RANGE => get(row, i, |v: Range<i32>| {
            Ok(DbValue::RangeInt32(v.into_wit()))
        }),
        Type::INT8_RANGE => get(row, i, |v: Range<i64>| {
            Ok(DbValue::RangeInt64(v.into_wit()))
        }),
        Type::NUM_RANGE => get(row, i, |v: Range<rust_decimal::Decimal>| {
            let (lo, hi) = v.into_wit();
            Ok(DbValue::RangeDecimal((
                lo.map(|(d, k)| (d.to_string(), k)),
                hi.map(|(d, k)| (d.to_string(), k)),
            )))
        }),
        Type::INT4_ARRAY => get(row, i, |v| Ok(DbValue::ArrayInt32(v))),
        Type::INT8_ARRAY => get(row, i, |v| Ok(DbValue::ArrayInt64(v))),
        Type::NUMERIC_ARRAY => get(row, i, |v: Vec<Option<rust_decimal::Decimal>>| {
            Ok(DbValue::ArrayDecimal(
                v.into_iter().map(|d| d.map(|d| d.to_string())).collect(),
            ))
        }),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => {
            get(row, i, |v| Ok(DbValue::ArrayStr(v)))
        }
        Type::INTERVAL => get(row, i, |v: Interval| Ok(DbValue::Interval(v.0))),
        _ => get(row, i, |v: Other| Ok(DbValue::Unsupported(v.0))),
    }
}

/// Approximate host memory of a value, for the 128 MiB result limit.
pub fn memory_size(v: &DbValue) -> usize {
    let base = std::mem::size_of::<DbValue>();
    base + match v {
        DbValue::Str(s) | DbValue::Uuid(s) | DbValue::Decimal(s) => s.len(),
        DbValue::Binary(b) | DbValue::Jsonb(b) | DbValue::Unsupported(b) => b.len(),
        DbValue::RangeDecimal((a, b)) => {
            a.as_ref().map_or(0, |x| x.0.len()) + b.as_ref().map_or(0, |x| x.0.len())
        }
        DbValue::ArrayInt32(a) => a.len() * 8,
        DbValue::ArrayInt64(a) => a.len() * 16,
        DbValue::ArrayDecimal(a) | DbValue::ArrayStr(a) => a
            .iter()
            .map(|s| 24 + s.as_ref().map_or(0, String::len))
            .sum(),
        _ => 0,
    }
}

/// A parameter ready to bind.
pub type Param = Box<dyn ToSql + Send + Sync>;

/// Converts a guest parameter, failing for malformed uuid/json/decimal or
/// impossible dates (the caller maps the error to BadParameter).
pub fn to_sql(value: &ParameterValue) -> anyhow::Result<Param> {
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(*v),
        ParameterValue::Int8(v) => Box::new(*v),
        ParameterValue::Int16(v) => Box::new(*v),
        ParameterValue::Int32(v) => Box::new(*v),
        ParameterValue::Int64(v) => Box::new(*v),
        ParameterValue::Floating32(v) => Box::new(*v),
        ParameterValue::Floating64(v) => Box::new(*v),
        ParameterValue::Str(v) => Box::new(v.clone()),
        ParameterValue::Binary(v) => Box::new(v.clone()),
        ParameterValue::Date((y, m, d)) => Box::new(date(*y, *m, *d)?),
        ParameterValue::Time((h, mi, s, ns)) => Box::new(time(*h, *mi, *s, *ns)?),
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => Box::new(chrono::NaiveDateTime::new(
            date(*y, *mo, *d)?,
            time(*h, *mi, *s, *ns)?,
        )),
        ParameterValue::Timestamp(secs) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(*secs, 0)
                .ok_or_else(|| anyhow!("invalid epoch timestamp {secs}"))?,
        ),
        ParameterValue::Uuid(v) => {
            Box::new(uuid::Uuid::parse_str(v).with_context(|| format!("invalid UUID {v}"))?)
        }
        ParameterValue::Jsonb(v) => Box::new(
            serde_json::from_slice::<serde_json::Value>(v)
                .with_context(|| format!("invalid JSON {}", String::from_utf8_lossy(v)))?,
        ),
        ParameterValue::Decimal(v) => Box::new(decimal(v)?),
        ParameterValue::RangeInt32((lo, hi)) => Box::new(Range::from_wit(*lo, *hi)),
        ParameterValue::RangeInt64((lo, hi)) => Box::new(Range::from_wit(*lo, *hi)),
        ParameterValue::RangeDecimal((lo, hi)) => {
            let conv = |b: &Option<(String, RangeBoundKind)>| -> anyhow::Result<_> {
                b.as_ref().map(|(s, k)| Ok((decimal(s)?, *k))).transpose()
            };
            Box::new(Range::from_wit(conv(lo)?, conv(hi)?))
        }
        ParameterValue::ArrayInt32(v) => Box::new(v.clone()),
        ParameterValue::ArrayInt64(v) => Box::new(v.clone()),
        ParameterValue::ArrayDecimal(v) => Box::new(
            v.iter()
                .map(|d| d.as_deref().map(decimal).transpose())
                .collect::<anyhow::Result<Vec<_>>>()?,
        ),
        ParameterValue::ArrayStr(v) => Box::new(v.clone()),
        ParameterValue::Interval(v) => Box::new(Interval(*v)),
        ParameterValue::DbNull => Box::new(Null),
    })
}

fn date(y: i32, m: u8, d: u8) -> anyhow::Result<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(y, m.into(), d.into())
        .ok_or_else(|| anyhow!("invalid date y={y}, m={m}, d={d}"))
}

fn time(h: u8, mi: u8, s: u8, ns: u32) -> anyhow::Result<chrono::NaiveTime> {
    chrono::NaiveTime::from_hms_nano_opt(h.into(), mi.into(), s.into(), ns)
        .ok_or_else(|| anyhow!("invalid time {h}:{mi}:{s}:{ns}"))
}

fn decimal(s: &str) -> anyhow::Result<rust_decimal::Decimal> {
    rust_decimal::Decimal::from_str_exact(s).with_context(|| format!("invalid decimal {s}"))
}

/// `NULL` of whatever type the parameter has.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, BoxError> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// Raw bytes of a column type without a WIT mapping.
struct Other(Vec<u8>);

impl<'a> FromSql<'a> for Other {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Self(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Postgres `interval` in its binary form (micros, days, months).
#[derive(Debug)]
struct Interval(WitInterval);

impl ToSql for Interval {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_i64(self.0.micros);
        out.put_i32(self.0.days);
        out.put_i32(self.0.months);
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for Interval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        if raw.len() != 16 {
            return Err("unexpected binary format for Postgres INTERVAL".into());
        }
        let micros = i64::from_be_bytes(raw[0..8].try_into()?);
        let days = i32::from_be_bytes(raw[8..12].try_into()?);
        let months = i32::from_be_bytes(raw[12..16].try_into()?);
        Ok(Self(WitInterval {
            micros,
            days,
            months,
        }))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

type Bound<T> = Option<(T, RangeBoundKind)>;

/// A Postgres range over `T` (int4range, int8range, numrange). An empty
/// range reads as two absent bounds, like Spin.
#[derive(Debug)]
struct Range<T> {
    lower: Bound<T>,
    upper: Bound<T>,
}

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;

impl<T> Range<T> {
    fn from_wit(lower: Bound<T>, upper: Bound<T>) -> Self {
        Self { lower, upper }
    }
    fn into_wit(self) -> (Bound<T>, Bound<T>) {
        (self.lower, self.upper)
    }
}

/// The element type of each range type.
fn range_element(ty: &Type) -> Option<Type> {
    match *ty {
        Type::INT4_RANGE => Some(Type::INT4),
        Type::INT8_RANGE => Some(Type::INT8),
        Type::NUM_RANGE => Some(Type::NUMERIC),
        _ => None,
    }
}

trait RangeElement: ToSql + for<'a> FromSql<'a> + Sync {
    const RANGE: Type;
}
impl RangeElement for i32 {
    const RANGE: Type = Type::INT4_RANGE;
}
impl RangeElement for i64 {
    const RANGE: Type = Type::INT8_RANGE;
}
impl RangeElement for rust_decimal::Decimal {
    const RANGE: Type = Type::NUM_RANGE;
}

impl<T: RangeElement + std::fmt::Debug> ToSql for Range<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let elem = range_element(ty).ok_or("not a range type")?;
        let mut flags = 0u8;
        match &self.lower {
            None => flags |= RANGE_LB_INF,
            Some((_, RangeBoundKind::Inclusive)) => flags |= RANGE_LB_INC,
            Some(_) => {}
        }
        match &self.upper {
            None => flags |= RANGE_UB_INF,
            Some((_, RangeBoundKind::Inclusive)) => flags |= RANGE_UB_INC,
            Some(_) => {}
        }
        out.put_u8(flags);
        for (v, _) in [&self.lower, &self.upper].into_iter().flatten() {
            let len_at = out.len();
            out.put_i32(0);
            let start = out.len();
            if let IsNull::Yes = v.to_sql(&elem, out)? {
                return Err("range bounds cannot be NULL".into());
            }
            let len = i32::try_from(out.len() - start)?;
            out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == T::RANGE
    }
    to_sql_checked!();
}

impl<'a, T: RangeElement> FromSql<'a> for Range<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let elem = range_element(ty).ok_or("not a range type")?;
        let (&flags, mut rest) = raw.split_first().ok_or("empty range value")?;
        if flags & RANGE_EMPTY != 0 {
            return Ok(Self {
                lower: None,
                upper: None,
            });
        }
        let mut read_bound = |inf: u8, inc: u8| -> Result<Bound<T>, BoxError> {
            if flags & inf != 0 {
                return Ok(None);
            }
            if rest.len() < 4 {
                return Err("truncated range value".into());
            }
            let len = usize::try_from(i32::from_be_bytes(rest[..4].try_into()?))?;
            let bytes = rest.get(4..4 + len).ok_or("truncated range value")?;
            rest = &rest[4 + len..];
            let kind = if flags & inc != 0 {
                RangeBoundKind::Inclusive
            } else {
                RangeBoundKind::Exclusive
            };
            Ok(Some((T::from_sql(&elem, bytes)?, kind)))
        };
        let lower = read_bound(RANGE_LB_INF, RANGE_LB_INC)?;
        let upper = read_bound(RANGE_UB_INF, RANGE_UB_INC)?;
        Ok(Self { lower, upper })
    }
    fn accepts(ty: &Type) -> bool {
        *ty == T::RANGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every parameter kind against the column types of SPIN-BEHAVIOUR §3.
    #[test]
    fn parameter_binding_table() {
        let citext = Type::new(
            "citext".into(),
            0,
            tokio_postgres::types::Kind::Simple,
            "public".into(),
        );
        let all = [
            Type::BOOL,
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::FLOAT4,
            Type::FLOAT8,
            Type::TEXT,
            Type::VARCHAR,
            citext.clone(),
            Type::BYTEA,
            Type::DATE,
            Type::TIME,
            Type::TIMESTAMP,
            Type::TIMESTAMPTZ,
            Type::UUID,
            Type::JSON,
            Type::JSONB,
            Type::NUMERIC,
            Type::INT4_ARRAY,
            Type::TEXT_ARRAY,
            Type::UUID_ARRAY,
            Type::INTERVAL,
            Type::INT4_RANGE,
            Type::INT8_RANGE,
            Type::NUM_RANGE,
        ];
        let p = |v: ParameterValue| to_sql(&v).unwrap();
        let cases: Vec<(ParameterValue, Vec<Type>)> = vec![
            (ParameterValue::Boolean(true), vec![Type::BOOL]),
            (ParameterValue::Int8(1), vec![]),
            (ParameterValue::Int16(1), vec![Type::INT2]),
            (ParameterValue::Int32(1), vec![Type::INT4]),
            (ParameterValue::Int64(1), vec![Type::INT8]),
            (ParameterValue::Floating32(1.0), vec![Type::FLOAT4]),
            (ParameterValue::Floating64(1.0), vec![Type::FLOAT8]),
            (
                ParameterValue::Str("x".into()),
                vec![Type::TEXT, Type::VARCHAR, citext.clone()],
            ),
            (ParameterValue::Binary(vec![1]), vec![Type::BYTEA]),
            (ParameterValue::Date((2026, 1, 2)), vec![Type::DATE]),
            (ParameterValue::Time((1, 2, 3, 0)), vec![Type::TIME]),
            (
                ParameterValue::Datetime((2026, 1, 2, 3, 4, 5, 0)),
                vec![Type::TIMESTAMP],
            ),
            (ParameterValue::Timestamp(0), vec![Type::TIMESTAMPTZ]),
            (
                ParameterValue::Uuid("67e55044-10b1-426f-9247-bb680e5fe0c8".into()),
                vec![Type::UUID],
            ),
            (
                ParameterValue::Jsonb(b"{\"a\":1}".to_vec()),
                vec![Type::JSON, Type::JSONB],
            ),
            (ParameterValue::Decimal("1.50".into()), vec![Type::NUMERIC]),
            (
                ParameterValue::ArrayInt32(vec![Some(1)]),
                vec![Type::INT4_ARRAY],
            ),
            (
                ParameterValue::ArrayStr(vec![Some("a".into())]),
                vec![Type::TEXT_ARRAY],
            ),
            (
                ParameterValue::Interval(WitInterval {
                    micros: 1,
                    days: 2,
                    months: 3,
                }),
                vec![Type::INTERVAL],
            ),
            (
                ParameterValue::RangeInt32((Some((1, RangeBoundKind::Inclusive)), None)),
                vec![Type::INT4_RANGE],
            ),
            (
                ParameterValue::RangeInt64((None, None)),
                vec![Type::INT8_RANGE],
            ),
            (ParameterValue::DbNull, all.to_vec()),
        ];
        for (value, binds) in cases {
            let param = p(value.clone());
            for ty in &all {
                let mut buf = BytesMut::new();
                let ok = param.to_sql_checked(ty, &mut buf).is_ok();
                assert_eq!(ok, binds.contains(ty), "{value:?} -> {ty}");
            }
        }
    }

    #[test]
    fn malformed_parameters_are_rejected() {
        for bad in [
            ParameterValue::Uuid("not-a-uuid".into()),
            ParameterValue::Jsonb(b"{".to_vec()),
            ParameterValue::Decimal("1.2.3".into()),
            ParameterValue::Date((2026, 2, 30)),
            ParameterValue::Time((25, 0, 0, 0)),
        ] {
            assert!(to_sql(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn column_types_map_like_spin() {
        let cases = [
            (Type::BOOL, DbDataType::Boolean),
            (Type::INT2, DbDataType::Int16),
            (Type::BPCHAR, DbDataType::Str),
            (Type::TIMESTAMPTZ, DbDataType::Datetime),
            (Type::JSONB, DbDataType::Jsonb),
            (Type::JSON, DbDataType::Other("json".into())),
            (Type::INET, DbDataType::Other("inet".into())),
            (Type::BOOL_ARRAY, DbDataType::Other("_bool".into())),
            (Type::UUID_ARRAY, DbDataType::Other("_uuid".into())),
            (Type::VARCHAR_ARRAY, DbDataType::ArrayStr),
            (Type::NUM_RANGE, DbDataType::RangeDecimal),
            (Type::INTERVAL, DbDataType::Interval),
        ];
        for (ty, expected) in cases {
            assert_eq!(
                format!("{:?}", data_type(&ty)),
                format!("{expected:?}"),
                "{ty}"
            );
        }
    }

    #[test]
    fn reading_rules_for_values() {
        // json is not jsonb: it falls to Unsupported. (timestamptz failing the
        // whole query is checked end to end, in tests/e2e/host_conformance.rs.)
        assert!(matches!(data_type(&Type::JSON), DbDataType::Other(_)));
        // numeric NaN fails.
        let nan = [0u8, 0, 0, 0, 0xC0, 0, 0, 0];
        assert!(rust_decimal::Decimal::from_sql(&Type::NUMERIC, &nan).is_err());
        // interval round trip.
        let mut buf = BytesMut::new();
        Interval(WitInterval {
            micros: -5,
            days: 3,
            months: 14,
        })
        .to_sql(&Type::INTERVAL, &mut buf)
        .unwrap();
        let back = Interval::from_sql(&Type::INTERVAL, &buf).unwrap();
        assert_eq!((back.0.micros, back.0.days, back.0.months), (-5, 3, 14));
    }

    #[test]
    fn ranges_round_trip() {
        let r = Range::<i64>::from_wit(
            Some((3, RangeBoundKind::Inclusive)),
            Some((9, RangeBoundKind::Exclusive)),
        );
        let mut buf = BytesMut::new();
        r.to_sql(&Type::INT8_RANGE, &mut buf).unwrap();
        let back = Range::<i64>::from_sql(&Type::INT8_RANGE, &buf).unwrap();
        assert_eq!(
            back.into_wit(),
            (
                Some((3, RangeBoundKind::Inclusive)),
                Some((9, RangeBoundKind::Exclusive))
            )
        );
        let empty = Range::<i32>::from_sql(&Type::INT4_RANGE, &[RANGE_EMPTY]).unwrap();
        assert_eq!(empty.into_wit(), (None, None));
        let mut buf = BytesMut::new();
        Range::<rust_decimal::Decimal>::from_wit(
            None,
            Some((decimal("2.5").unwrap(), RangeBoundKind::Inclusive)),
        )
        .to_sql(&Type::NUM_RANGE, &mut buf)
        .unwrap();
        let back = Range::<rust_decimal::Decimal>::from_sql(&Type::NUM_RANGE, &buf).unwrap();
        assert_eq!(back.upper.unwrap().0.to_string(), "2.5");
    }
}

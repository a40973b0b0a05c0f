//! Capacity units by §10.1: 1 RCU reads 4 KB strongly (half for eventual reads), 1 WCU writes
//! 1 KB; single items round up on their own, a Query or Scan page rounds its total once.
//!
//! Invariant: every charge is at least the minimum unit of its kind (1 WCU; 1 RCU strong or
//! 0.5 eventual), so a missing item or an empty page still costs something, as in DynamoDB.
//! Does not track budgets: `bucket` does.

use shoal_wire::message::{Capacity, ConsumedCapacity, ReturnConsumedCapacity};

/// Bytes one read unit covers (strongly consistent).
pub const READ_UNIT_BYTES: u64 = 4 * 1024;
/// Bytes one write unit covers.
pub const WRITE_UNIT_BYTES: u64 = 1024;
/// Thousandths in one unit.
const MILLI_PER_UNIT: u64 = 1000;

/// Capacity in thousandths of a unit (`500` is half a unit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MilliUnits(pub u64);

impl MilliUnits {
    /// Whole units.
    pub fn units(units: u64) -> MilliUnits {
        MilliUnits(units * MILLI_PER_UNIT)
    }
}

impl std::ops::Add for MilliUnits {
    type Output = MilliUnits;
    fn add(self, other: MilliUnits) -> MilliUnits {
        MilliUnits(self.0 + other.0)
    }
}

impl std::ops::AddAssign for MilliUnits {
    fn add_assign(&mut self, other: MilliUnits) {
        self.0 += other.0;
    }
}

/// How a read was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// `ConsistentRead=true`.
    Strong,
    /// The default: half price.
    Eventual,
}

impl Consistency {
    /// From a request's `ConsistentRead` (absent means eventual).
    pub fn from_request(consistent_read: Option<bool>) -> Consistency {
        if consistent_read == Some(true) {
            Consistency::Strong
        } else {
            Consistency::Eventual
        }
    }
}

/// Read units for `size_bytes` read as one unit of work: rounded up to 4 KB, at least one
/// unit, halved for eventual reads.
pub fn read_units(size_bytes: u64, consistency: Consistency) -> MilliUnits {
    let units = size_bytes.div_ceil(READ_UNIT_BYTES).max(1) * MILLI_PER_UNIT;
    match consistency {
        Consistency::Strong => MilliUnits(units),
        Consistency::Eventual => MilliUnits(units / 2),
    }
}

/// GetItem (and each BatchGetItem key): the whole item's size, or the minimum when missing.
pub fn get_item_units(found_size: Option<u64>, consistency: Consistency) -> MilliUnits {
    read_units(found_size.unwrap_or(0), consistency)
}

/// A Query or Scan page: the total size of the items read, rounded once, at least one unit
/// for the partition touched.
pub fn page_read_units(total_size: u64, consistency: Consistency) -> MilliUnits {
    read_units(total_size, consistency)
}

/// Write units for an item of `size_bytes` (the larger of before and after for replacing
/// writes): rounded up to 1 KB, at least one unit.
pub fn write_units(size_bytes: u64) -> MilliUnits {
    MilliUnits(size_bytes.div_ceil(WRITE_UNIT_BYTES).max(1) * MILLI_PER_UNIT)
}

/// The `ConsumedCapacity` of one table for `mode` (`None` for NONE or absent). Reads report
/// `ReadCapacityUnits`-free totals as DynamoDB does for single-table operations; INDEXES adds
/// the `Table` part (no secondary indexes exist yet, so it equals the total).
pub fn consumed_capacity(
    table_name: &str,
    units: MilliUnits,
    mode: Option<ReturnConsumedCapacity>,
) -> Option<ConsumedCapacity> {
    let table = match mode? {
        ReturnConsumedCapacity::None => return None,
        ReturnConsumedCapacity::Total => None,
        ReturnConsumedCapacity::Indexes => Some(Capacity {
            capacity_units_milli: units.0,
            read_capacity_units_milli: None,
            write_capacity_units_milli: None,
        }),
    };
    Some(ConsumedCapacity {
        table_name: table_name.to_owned(),
        capacity_units_milli: units.0,
        read_capacity_units_milli: None,
        write_capacity_units_milli: None,
        table,
        local_secondary_indexes: Default::default(),
        global_secondary_indexes: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: u64 = 1024;

    #[test]
    fn examples_of_the_semantics_document() {
        let strong = Consistency::Strong;
        let eventual = Consistency::Eventual;
        // GetItem: missing item = 1 / 0.5.
        assert_eq!(get_item_units(None, strong), MilliUnits(1000));
        assert_eq!(get_item_units(None, eventual), MilliUnits(500));
        // A 4 KB item is one unit, one byte more is two.
        assert_eq!(get_item_units(Some(4 * KB), strong), MilliUnits(1000));
        assert_eq!(get_item_units(Some(4 * KB + 1), strong), MilliUnits(2000));
        assert_eq!(get_item_units(Some(4 * KB + 1), eventual), MilliUnits(1000));
        // BatchGetItem: 1.5 KB + 6.5 KB → 4 KB + 8 KB → 3 RCU strong.
        let batch = get_item_units(Some(1536), strong) + get_item_units(Some(6656), strong);
        assert_eq!(batch, MilliUnits(3000));
        // Query: 1500 items of 64 B = 96,000 B → rounded once to 96 KB → 24 RCU strong.
        assert_eq!(page_read_units(1500 * 64, strong), MilliUnits(24_000));
        assert_eq!(page_read_units(1500 * 64, eventual), MilliUnits(12_000));
        // An empty page still costs the minimum.
        assert_eq!(page_read_units(0, strong), MilliUnits(1000));
        assert_eq!(page_read_units(0, eventual), MilliUnits(500));
        // Writes round up to 1 KB, at least 1 WCU.
        assert_eq!(write_units(0), MilliUnits(1000));
        assert_eq!(write_units(KB), MilliUnits(1000));
        assert_eq!(write_units(KB + 1), MilliUnits(2000));
        assert_eq!(write_units(400 * KB), MilliUnits(400_000));
    }

    #[test]
    fn consumed_capacity_follows_the_requested_detail() {
        assert_eq!(consumed_capacity("t", MilliUnits(500), None), None);
        let none = consumed_capacity("t", MilliUnits(500), Some(ReturnConsumedCapacity::None));
        assert_eq!(none, None);
        let total = consumed_capacity("t", MilliUnits(500), Some(ReturnConsumedCapacity::Total))
            .expect("TOTAL reports");
        assert_eq!(total.table_name, "t");
        assert_eq!(total.capacity_units_milli, 500);
        assert_eq!(total.table, None);
        let indexes =
            consumed_capacity("t", MilliUnits(2000), Some(ReturnConsumedCapacity::Indexes))
                .expect("INDEXES reports");
        assert_eq!(indexes.table.map(|t| t.capacity_units_milli), Some(2000));
    }
}

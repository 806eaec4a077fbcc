// SPDX-License-Identifier: GPL-2.0

//! Direct memory access (DMA).
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use crate::bindings;

/// A DMA address, as the device sees the memory.
pub type DmaAddr = bindings::dma_addr_t;

/// The direction of a DMA mapping: who writes the memory.
///
/// Mirrors the kernel's `enum dma_data_direction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataDirection {
    /// Both the device and the CPU write the memory (`DMA_BIDIRECTIONAL`).
    Bidirectional,
    /// The CPU writes, the device reads (`DMA_TO_DEVICE`).
    ToDevice,
    /// The device writes, the CPU reads (`DMA_FROM_DEVICE`).
    FromDevice,
}

impl DataDirection {
    /// Returns the C value of this direction.
    pub const fn as_raw(self) -> bindings::dma_data_direction {
        match self {
            Self::Bidirectional => bindings::dma_data_direction_DMA_BIDIRECTIONAL,
            Self::ToDevice => bindings::dma_data_direction_DMA_TO_DEVICE,
            Self::FromDevice => bindings::dma_data_direction_DMA_FROM_DEVICE,
        }
    }
}

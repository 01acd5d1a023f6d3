// Placeholder while the bookings domain is built (issue 12).
export {};

import { allowedOrderTransitions, cancellationRefunds, isFinalOrderStatus, ORDER_STATUSES, orderTransitionError } from '../../src/domain/orders';

describe('order state machine', () => {
  it('walks confirmed → processing → shipped → delivered', () => {
    expect(orderTransitionError('confirmed', 'processing')).toBeNull();
    expect(orderTransitionError('processing', 'shipped')).toBeNull();
    expect(orderTransitionError('shipped', 'delivered')).toBeNull();
  });

  it('refuses skipped steps, going back, repeats and unknown statuses', () => {
    expect(orderTransitionError('confirmed', 'delivered')).toMatch(/cannot go from confirmed to delivered/);
    expect(orderTransitionError('confirmed', 'shipped')).not.toBeNull();
    expect(orderTransitionError('shipped', 'processing')).not.toBeNull();
    expect(orderTransitionError('processing', 'processing')).toMatch(/already processing/);
    expect(orderTransitionError('confirmed', 'lost')).toMatch(/Unknown/);
    expect(orderTransitionError('nope', 'confirmed')).toMatch(/Unknown/);
  });

  it('cancels confirmed and processing orders only; cancelled and delivered are final', () => {
    expect(orderTransitionError('confirmed', 'cancelled')).toBeNull();
    expect(orderTransitionError('processing', 'cancelled')).toBeNull();
    expect(orderTransitionError('shipped', 'cancelled')).toMatch(/no longer be cancelled/);
    expect(orderTransitionError('delivered', 'cancelled')).toMatch(/no longer be cancelled/);
    expect(orderTransitionError('cancelled', 'cancelled')).toMatch(/already cancelled/);
    expect(orderTransitionError('cancelled', 'processing')).toMatch(/final/);
    expect(isFinalOrderStatus('cancelled')).toBe(true);
    expect(isFinalOrderStatus('delivered')).toBe(true);
    expect(cancellationRefunds('confirmed')).toBe(true);
    expect(cancellationRefunds('processing')).toBe(true);
    expect(cancellationRefunds('pending')).toBe(false);
  });

  it('leaves pending orders to the checkout workflow', () => {
    expect(orderTransitionError('pending', 'cancelled')).toMatch(/still being checked out/);
    expect(orderTransitionError('pending', 'cancelled', 'system')).toBeNull();
    expect(orderTransitionError('pending', 'confirmed', 'system')).toBeNull();
    expect(allowedOrderTransitions('pending')).toEqual([]);
  });

  it('has an exit from every non-final status and never re-enters pending', () => {
    for (const s of ORDER_STATUSES) {
      if (s !== 'pending' && !isFinalOrderStatus(s)) expect(allowedOrderTransitions(s).length).toBeGreaterThan(0);
      for (const f of ORDER_STATUSES) expect(allowedOrderTransitions(f, 'system')).not.toContain('pending');
    }
  });
});
